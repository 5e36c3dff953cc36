import Foundation
import Framework
import Optimizers
import Testing
import TestSupport

/// Our optimizers against torch.optim on the same closed-form parameters and gradients
/// (generator: Tests/Golden/generate/optimizers_reference.py).
@Suite("Optimizers match torch.optim")
struct OptimizerGoldenTests {
    struct Reference: Decodable {
        struct Case: Decodable {
            var optimizer: String
            var options: [String: String]
            var trajectory: [[Double]]
        }
        var torch: String
        var cases: [Case]
    }

    @Test func trajectoriesMatchTorch() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: RepositoryPaths.path("Tests/Golden/Resources/optimizers.json")))
        let reference = try JSONDecoder().decode(Reference.self, from: data)
        #expect(reference.cases.count == 7)
        for reference in reference.cases {
            var registries = Registries()
            try Optimizers.register(into: &registries)
            let optimizer = try registries.optimizers.make(reference.optimizer, options: reference.options, context: ())
            let parameter = Parameter<Float>(
                name: "p", value: Tensor(shape: [2, 3], scalars: (0..<6).map { Float(0.5 - 0.1 * Double($0)) }))
            for (t, expected) in zip(1..., reference.trajectory) {
                parameter.zeroGrad()
                for i in 0..<6 { parameter.grad.scalars[i] = Float(Foundation.sin(1.0 + 0.7 * Double(i) + 1.3 * Double(t))) }
                optimizer.step([parameter])
                let worst = zip(parameter.value.scalars, expected).map { abs(Double($0) - $1) }.max()!
                #expect(worst <= 2e-6, "\(reference.optimizer) \(reference.options) step \(t): max |Δ| \(worst)")
            }
        }
    }
}
