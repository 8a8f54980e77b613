import { Counter, Gauge, Registry } from "prom-client";

/** Prometheus metrics of one server instance (own registry, so several instances can share a process). */
export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: "pairkit_http_requests_total",
    help: "HTTP requests by method, route pattern and status code",
    labelNames: ["method", "route", "status"] as const,
    registers: [this.registry],
  });
  readonly passwordRequests = new Counter({
    name: "pairkit_password_requests_total",
    help: "Pairing password requests by outcome (issued or the error code)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly pairings = new Counter({
    name: "pairkit_pairings_total",
    help: "Pairing sessions that ended, by outcome (paired, failed, locked, expired, superseded)",
    labelNames: ["outcome"] as const,
    registers: [this.registry],
  });
  readonly attempts = new Counter({
    name: "pairkit_pairing_attempts_total",
    help: "SPAKE2+ attempts reported by devices (started) and vehicles (failed)",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });

  constructor(derivation: { readonly depth: number; readonly running: number }) {
    new Gauge({
      name: "pairkit_password_derivation_queue_depth",
      help: "scrypt derivations waiting for a slot",
      registers: [this.registry],
      collect() {
        this.set(derivation.depth);
      },
    });
    new Gauge({
      name: "pairkit_password_derivations_running",
      help: "scrypt derivations in progress",
      registers: [this.registry],
      collect() {
        this.set(derivation.running);
      },
    });
  }
}
