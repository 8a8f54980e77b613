// Active Card firmware simulator. Filled by the Active Card issue.
export {};
