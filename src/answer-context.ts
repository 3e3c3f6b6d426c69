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
import { Keyring } from './dnssec/keyring.js';
import { AnswerSigner, SignatureCache } from './dnssec/sign.js';

export interface AnswerSetup {
  readonly context: AnswerContext;
  /** Every policy's selection state in this process; told to forget pools that go away. */
  readonly policies: PolicyStates;
  /** This process's DNSSEC keys: warmed with each snapshot taken in, before it answers. */
  readonly keyring: Keyring;
}

/** `role`: a DNS worker leaves logging unusable keys to the primary, which takes in the same snapshots. */
export function createAnswerContext(
  config: Config,
  metrics: Metrics,
  health: () => HealthView,
  log: Logger,
  env: PolicyEnv = {},
  role: 'primary' | 'worker' = 'primary',
): AnswerSetup {
  const policies = new PolicyStates(env);
  const unknownPolicy = (pool: { name: string; policy: string }) => log.warn({ pool: pool.name, policy: pool.policy }, 'unknown policy: answering by weight');
  const keyring = new Keyring({ secret: config.dnssec.secret, log, metrics, logUnusable: role === 'primary' });
  const cache = new SignatureCache(config.dnssec.cacheBytes);
  const signer = new AnswerSigner({ cache, signerFor: keyring.signerFor });
  // Read off the cache once a second rather than counted per answer (the answer path stays free of label lookups).
  let hits = 0;
  let misses = 0;
  const sync = setInterval(() => {
    if (cache.hits !== hits) metrics.dnssecSignatures.inc({ cache: 'hit' }, cache.hits - hits);
    if (cache.misses !== misses) metrics.dnssecSignatures.inc({ cache: 'miss' }, cache.misses - misses);
    hits = cache.hits;
    misses = cache.misses;
    metrics.dnssecCacheBytes.set(cache.bytes);
  }, 1000);
  sync.unref();
  const context: AnswerContext = {
    nodeName: config.dns.nodeName,
    choose: createChooser(health, policies, choiceMetrics(metrics, unknownPolicy)),
    dnssec: signer,
  };
  return { context, policies, keyring };
}
