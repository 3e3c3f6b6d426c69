// Builds what the core needs to answer pool names (the health-aware chooser), the same way in every process.
import type { AnswerContext } from './core/answer.js';
import type { Config } from './config.js';
import type { HealthView } from './health/health-view.js';
import type { Logger } from './obs/log.js';
import type { Metrics } from './obs/metrics.js';
import { choiceMetrics } from './policies/choice-metrics.js';
import { createChooser } from './policies/choose.js';
import type { PolicyEnv } from './policies/policy.js';
import { PolicyStates } from './policies/policy-states.js';

export interface AnswerSetup {
  readonly context: AnswerContext;
  /** Every policy's selection state in this process; told to forget pools that go away. */
  readonly policies: PolicyStates;
}

export function createAnswerContext(config: Config, metrics: Metrics, health: () => HealthView, log: Logger, env: PolicyEnv = {}): AnswerSetup {
  const policies = new PolicyStates(env);
  const unknownPolicy = (pool: { name: string; policy: string }) => log.warn({ pool: pool.name, policy: pool.policy }, 'unknown policy: answering by weight');
  const context: AnswerContext = {
    nodeName: config.dns.nodeName,
    choose: createChooser(health, policies, choiceMetrics(metrics, unknownPolicy)),
  };
  return { context, policies };
}
