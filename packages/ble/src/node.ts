// Node-only parts of @pairkit/ble (`@pairkit/ble/node`): the WebSocket radio server and the
// noble/bleno adapters, whose optional libraries a browser bundle must not try to resolve.
export * from "./adapters/advertising-pdu.ts";
export * from "./adapters/bleno-peripheral.ts";
export * from "./adapters/noble-central.ts";
export * from "./ws/radio-server.ts";
