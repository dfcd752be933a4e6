/** The WebSocket protocol: sessions, subscriptions, credit and keepalive. Never imports express. */
export { WebSocketGateway, type WebSocketGatewayDeps, type WebSocketStats } from './server.js';
export { CLOSE, type ProduceRecords } from './connection.js';
