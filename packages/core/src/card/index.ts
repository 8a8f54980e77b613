// Active Card pairing, phone side (seed 002). Filled by the Active Card issue.
export {};
