import type { MoveStage } from '../../catalog/job-rows.js';

/**
 * A tenant move is a state machine; the stage is persisted in the catalog *before* the
 * stage's side effects run, so whoever resumes a move knows what may already exist:
 *
 *   pending → copying → catching_up → fenced → verified → cutover → cleanup → done
 *                  ╰──────────╯ any failure before cutover ──▶ failed (tenant back on the source, writable)
 *
 * - copying:     publication on the source, subscription on the target, initial copy
 * - catching_up: the subscription streams changes until it is close to the source's WAL
 * - fenced:      the source refuses the tenant's writes; wait until the target has them all
 * - verified:    row counts and checksums per table agree on both sides (in memory only: it is
 *                resumed like fenced, so it rides on cutover's write, inside the pause)
 * - cutover:     the catalog places the tenant on the target; gateways are told
 * - cleanup:     subscription, publication and slot dropped, the source's rows deleted
 */
/** The happy path, in order. */
const FORWARD: readonly MoveStage[] = ['pending', 'copying', 'catching_up', 'fenced', 'verified', 'cutover', 'cleanup', 'done'];

export function isTerminal(stage: MoveStage): boolean {
  return stage === 'done' || stage === 'failed';
}

/** From cutover on the tenant may already be served by the target: a move only goes forward. */
export function isPastCutover(stage: MoveStage): boolean {
  return stage === 'cutover' || stage === 'cleanup' || stage === 'done';
}

/** The stage after `stage` on the happy path (undefined for terminal stages). */
export function nextStage(stage: MoveStage): MoveStage | undefined {
  const i = FORWARD.indexOf(stage);
  return i < 0 || i === FORWARD.length - 1 ? undefined : FORWARD[i + 1];
}

/**
 * Legal transitions: one step forward; to failed from anything before cutover; back to
 * pending only from a rolled-back, not yet terminal stage (a resumed move starts over).
 */
export function canTransition(from: MoveStage, to: MoveStage): boolean {
  if (isTerminal(from)) return false;
  if (to === 'failed') return !isPastCutover(from);
  if (to === 'pending') return !isPastCutover(from) && from !== 'pending';
  return nextStage(from) === to;
}

/** A stage change the state machine forbids: a bug in the mover, refused before it reaches the catalog. */
export class StageTransitionError extends Error {
  override readonly name = 'StageTransitionError';

  constructor(
    readonly from: MoveStage,
    readonly to: MoveStage,
  ) {
    super(`a move cannot go from ${from} to ${to}`);
  }
}

/** Throws StageTransitionError unless `from → to` is legal (canTransition). */
export function checkTransition(from: MoveStage, to: MoveStage): void {
  if (!canTransition(from, to)) throw new StageTransitionError(from, to);
}
