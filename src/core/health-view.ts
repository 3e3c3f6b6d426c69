// The health table the answer path reads: member id → up (true) or down (false); absent: no probe result yet.
export type HealthView = ReadonlyMap<number, boolean>;
