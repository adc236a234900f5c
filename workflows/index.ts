/** The workflows the worker registers. Deterministic code only: no Node built-ins, no I/O. */
export { userSyncWorkflow } from './user-sync';
export { offboardUserWorkflow, onboardUserWorkflow, setUserRoleWorkflow, updateUserTeamsWorkflow } from './steps';
export { removalGuardWorkflow } from './removal-guard';
export { inviteBatcherWorkflow } from './invite-batcher';
export { deliveryWorkflow } from './delivery';
export { teamBatcherWorkflow } from './team-batcher';
