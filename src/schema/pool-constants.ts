// The fixed word lists of a pool, apart from the schema so that the CLI's help text lists them without loading zod.
export const CHECK_KINDS = ['http', 'https', 'tcp'] as const;
export const ALL_DOWN = ['open', 'servfail'] as const;
/** How a member's state is decided from the vantage points' votes (src/health/quorum.ts). */
export const QUORUM_RULES = ['auto', 'local', 'any-up', 'majority', 'all-down'] as const;
