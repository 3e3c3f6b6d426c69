// The levels of the place hierarchy a client is matched at, most specific first; metrics label answers by them.
export const GEO_LEVELS = ['region', 'country', 'continent', 'nearest', 'all'] as const;
export type GeoLevel = (typeof GEO_LEVELS)[number];
