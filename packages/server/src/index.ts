// The pairing backend. Filled by the server issue.
export {};
