// The browser console. Filled by the web console issue.
export {};
