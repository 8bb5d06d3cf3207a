/**
 * Repo ids (`org/name`, `name`) with an optional `@revision`, checked by huggingface_hub's rules
 * (`utils/_validators.py` `validate_repo_id`) so that an id one tool accepts the other accepts too.
 */
import { Wav2Vec2Error } from '../errors';

export interface RepoRef {
  /** `org/name` or `name`, as given (the cache folder is named after it, as huggingface_hub names it). */
  repo: string;
  /** A branch, tag or 40-hex commit; `main` when none was given. */
  revision: string;
}

export const DEFAULT_REVISION = 'main';
export const COMMIT_HASH = /^[0-9a-f]{40}$/;

// One name: 1 to 96 of [A-Za-z0-9_.-], starting and ending with a letter, digit or "_" (the \b of their regex).
const NAME = /^(?=[\w.-]{1,96}$)\w(?:[\w.-]*\w)?$/;

/** Why `repo` is not a repo id, or null when it is one. */
function repoProblem(repo: string): string | null {
  const parts = repo.split('/');
  if (parts.length > 2) return "expected 'name' or 'namespace/name' (one slash at most)";
  if (!parts.every((p) => NAME.test(p))) {
    return "each part is 1 to 96 of letters, digits, '-', '_' or '.', and cannot start or end with '-' or '.'";
  }
  if (repo.includes('--') || repo.includes('..')) return "'--' and '..' are not allowed";
  if (repo.endsWith('.git')) return "it cannot end with '.git'";
  return null;
}

/**
 * Why `revision` is not a branch, tag or commit we can put in a URL and in `refs/<revision>`, or null. Git allows
 * more (see git check-ref-format); these are the names the hub gives (`main`, `v1.0`, `refs/pr/3`).
 */
function revisionProblem(revision: string): string | null {
  if (revision.length === 0 || revision.length > 255) return 'a revision of 1 to 255 characters';
  if (!/^[\w.\-/]+$/.test(revision)) return "letters, digits, '-', '_', '.' and '/'";
  if (revision.split('/').some((p) => p === '' || p === '.' || p === '..' || p.startsWith('.') || p.endsWith('.lock'))) {
    return "path parts that are not empty, '.', '..', hidden or '*.lock'";
  }
  return null;
}

/** Parses `org/name[@revision]`; an explicit `revision` argument must agree with one written in the id. */
export function parseRepoId(spec: string, revision?: string): RepoRef {
  if (typeof spec !== 'string') throw new Wav2Vec2Error('HUB_INVALID_ID', `Repo id: expected a string such as "facebook/wav2vec2-base-960h", got ${typeof spec}.`);
  const at = spec.indexOf('@');
  const repo = at < 0 ? spec : spec.slice(0, at);
  const inline = at < 0 ? undefined : spec.slice(at + 1);
  const problem = repoProblem(repo);
  if (problem) throw new Wav2Vec2Error('HUB_INVALID_ID', `Repo id ${JSON.stringify(repo)}: ${problem} (e.g. "facebook/wav2vec2-base-960h").`);
  if (inline !== undefined && revision !== undefined && inline !== revision) {
    throw new Wav2Vec2Error('HUB_INVALID_ID', `Repo id ${JSON.stringify(spec)} names revision ${JSON.stringify(inline)} but revision ${JSON.stringify(revision)} was also given: give one.`);
  }
  const rev = inline ?? revision ?? DEFAULT_REVISION;
  const revProblem = revisionProblem(rev);
  if (revProblem) throw new Wav2Vec2Error('HUB_INVALID_ID', `Revision ${JSON.stringify(rev)}: expected ${revProblem}.`);
  return { repo, revision: rev };
}

/** Whether `spec` parses as `org/name[@revision]` (it says nothing about whether the repo exists). */
export function isRepoId(spec: string): boolean {
  try {
    parseRepoId(spec);
    return true;
  } catch {
    return false;
  }
}

/** huggingface_hub's folder name for a model repo: `models--org--name`. */
export function repoFolderName(repo: string): string {
  return ['models', ...repo.split('/')].join('--');
}
