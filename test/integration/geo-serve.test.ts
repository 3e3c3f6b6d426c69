// lbdns serve with geo wired in, one process: dig +subnet= answers, /explain on the ops port, and lbdns explain with its default URL.
import { startInProcess } from '../helpers/server.js';
import { geoServeSuite } from './geo-serve-suite.js';

geoServeSuite((env) => startInProcess(env));
