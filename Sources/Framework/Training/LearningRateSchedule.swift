/// The learning rate over a run, as a factor on the optimizer's base rate: constant (PaddleNLP's
/// example), or decaying linearly to zero at the last update (the schedule of BERT-style fine-tuning,
/// transformers' `get_linear_schedule_with_warmup`); either may start with a linear warm-up.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Shape: String, CaseIterable, Sendable { case constant, linear }

    public var shape: Shape
    /// The fraction of all updates spent rising linearly to the base rate.
    public var warmupFraction: Double

    public init(shape: Shape = .constant, warmupFraction: Double = 0) {
        precondition(warmupFraction >= 0 && warmupFraction < 1, "warm-up fraction must be in [0, 1), got \(warmupFraction)")
        self.shape = shape
        self.warmupFraction = warmupFraction
    }

    /// The factor for update `step` (0-based) of `totalSteps`. Warm-up counts from 1/warm-up (no update
    /// at rate zero); linear decay reaches 1/(updates after warm-up) at the last update, never zero.
    public func factor(step: Int, totalSteps: Int) -> Double {
        let warmup = Int((warmupFraction * Double(totalSteps)).rounded())
        if step < warmup { return Double(step + 1) / Double(warmup) }
        switch shape {
        case .constant: return 1
        case .linear: return max(0, Double(totalSteps - step) / Double(max(1, totalSteps - warmup)))
        }
    }
}
