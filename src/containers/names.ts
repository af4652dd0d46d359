import { randomInt } from 'node:crypto';
import { invalidArgument } from '../lib/errors.js';

/** Docker's rule for container names (a leading slash is allowed and dropped). */
const VALID_NAME = /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

export function validateName(name: string): string {
  if (!VALID_NAME.test(name)) {
    throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name.replace(/^\//, '');
}

// Names in Docker's "adjective_surname" style, from our own short lists.
const ADJECTIVES = [
  'agile', 'amazing', 'bold', 'brave', 'bright', 'calm', 'clever', 'cool', 'crisp', 'daring', 'eager',
  'elegant', 'epic', 'fervent', 'festive', 'fond', 'gallant', 'gentle', 'happy', 'hopeful', 'jolly',
  'keen', 'kind', 'lucid', 'merry', 'modest', 'nifty', 'noble', 'patient', 'peaceful', 'quick', 'quiet',
  'relaxed', 'sharp', 'steady', 'sunny', 'swift', 'tender', 'upbeat', 'vibrant', 'wise', 'witty', 'zealous',
];
const SURNAMES = [
  'agnesi', 'babbage', 'bohr', 'curie', 'darwin', 'dijkstra', 'einstein', 'euler', 'faraday', 'fermi',
  'feynman', 'galileo', 'gauss', 'goodall', 'hopper', 'hypatia', 'kepler', 'knuth', 'lamarr', 'lovelace',
  'maxwell', 'meitner', 'mendel', 'newton', 'noether', 'pascal', 'planck', 'ramanujan', 'ride', 'sagan',
  'shannon', 'tesla', 'thompson', 'turing', 'volta', 'wilson', 'wright', 'yalow',
];

export function generateName(taken: (name: string) => boolean): string {
  for (let attempt = 0; ; attempt++) {
    let name = `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${SURNAMES[randomInt(SURNAMES.length)]}`;
    if (attempt > 10) name += randomInt(10);
    if (!taken(name)) return name;
  }
}
