// Owner pairing, phone side (seed 001). Filled by the owner pairing issue.
export {};
