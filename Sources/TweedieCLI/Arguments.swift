import ArgumentParser
import Tweedie

// The library's named choices as option values: `--help` lists them, and ArgumentParser refuses
// any other value with the list.
extension SamplerConfiguration.Kind: ExpressibleByArgument {}
extension GridKind: ExpressibleByArgument {}
extension DDPMSampler.Variance: ExpressibleByArgument {}
extension GuidanceMethod: ExpressibleByArgument {}
