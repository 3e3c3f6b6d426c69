// lbdns serve with geo in two worker processes: the same checks as geo-serve, answered by the workers.
import { startChild } from '../helpers/server.js';
import { geoServeSuite } from './geo-serve-suite.js';

geoServeSuite((env) => startChild({ ...env, LBDNS_WORKERS: '2' }));
