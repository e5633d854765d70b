// Times and memory of each compute action, per stage. Produced by the cost
// model (from FLOPs and device speed), read from a measured costs file
// (`pipec profile`), or unit costs for comparing with papers and PyTorch.
// Consumed by the list scheduler, the automatic scheduler and the simulator.

export interface StageTimes {
  /** Seconds (or abstract units under unit costs) per microbatch. */
  readonly forward: number;
  readonly backward: number;
  readonly backwardInput: number;
  readonly backwardWeight: number;
  /** Activation memory per microbatch, bytes (or 1 per stage under unit costs). */
  readonly activation: number;
  /**
   * Memory per microbatch kept from the input-gradient step I until the
   * weight-gradient step W (what W needs); absent: `activation` (nothing is
   * freed at I, the conservative model).
   */
  readonly weightGradientActivation?: number;
}

export interface CostModel {
  readonly kind: 'unit' | 'derived' | 'measured';
  readonly stages: readonly StageTimes[];
  /** Time to move stage s's output to stage s+1 (0 when both are on one device). */
  readonly sendActivation: readonly number[];
  /** Time to move stage s's input gradient to stage s-1 (index s; 0 for s = 0). */
  readonly sendGradient: readonly number[];
  /**
   * Device time the sender of stage s's output (resp. input gradient) spends
   * on the send itself — reading the tensor back, copying it, posting it —
   * before the transfer starts; absent: 0 (sends are free). Measured in situ.
   */
  readonly sendActivationOverhead?: readonly number[];
  readonly sendGradientOverhead?: readonly number[];
  /**
   * Time to move skip edge e's tensor between its two stages' devices (index
   * e of the program's skip edges; its gradient back takes as long); 0 for
   * an edge within one device. Absent: free.
   */
  readonly sendSkip?: readonly number[];
  /** Bytes per second between a device and host memory (offload / reload); absent: free. */
  readonly hostBandwidth?: number;
  /** Time of the gradient allreduce of stage s across data-parallel replicas; absent: 0. */
  readonly allreduce?: readonly number[];
  /** Time of stage s's optimizer step; absent: 0. */
  readonly optimizerStep?: readonly number[];
}

/** F = I = W = 1, B = 2, activation 1 per stage, no communication time. */
export function unitCostModel(stageCount: number): CostModel {
  const stage: StageTimes = { forward: 1, backward: 2, backwardInput: 1, backwardWeight: 1, activation: 1 };
  return {
    kind: 'unit',
    stages: Array.from({ length: stageCount }, () => stage),
    sendActivation: Array.from({ length: stageCount }, () => 0),
    sendGradient: Array.from({ length: stageCount }, () => 0),
  };
}
