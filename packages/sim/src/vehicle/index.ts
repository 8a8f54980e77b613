// Vehicle simulator. Filled by the owner pairing issue.
export {};
