// Builds what the core needs to answer pool names (the health-aware chooser), the same way in every process.
import type { AnswerContext } from './core/answer.js';
import type { Config } from './config.js';
import type { HealthView } from './health/health-view.js';
import type { Logger } from './obs/log.js';
import type { Metrics } from './obs/metrics.js';
import { choiceMetrics } from './policies/choice-metrics.js';
import { createChooser } from './policies/choose.js';
import type { GeoSetup } from './geo/setup.js';
import { createPolicyState, type PolicyState } from './policies/policy.js';

export interface AnswerSetup {
  readonly context: AnswerContext;
  /** Selection state (WRR positions) this process owns; pruned when pools go away. */
  readonly policyState: PolicyState;
}

export function createAnswerContext(config: Config, metrics: Metrics, health: () => HealthView, log: Logger, geo?: GeoSetup['state']): AnswerSetup {
  const policyState = createPolicyState(geo);
  const unknownPolicy = (pool: { name: string; policy: string }) => log.warn({ pool: pool.name, policy: pool.policy }, 'unknown policy: answering by weight');
  const context: AnswerContext = {
    nodeName: config.dns.nodeName,
    choose: createChooser(health, policyState, choiceMetrics(metrics, unknownPolicy)),
  };
  return { context, policyState };
}
