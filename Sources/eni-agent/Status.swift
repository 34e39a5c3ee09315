import ArgumentParser
import ENIAgent

/// `eni-agent status`: each ENI's state, from the kernel and the metadata, whether or not the
/// daemon runs.
struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show each ENI: MAC, interface, state, table, IPs.",
        discussion: """
            States: configured; unconfigured (changes to apply); pending (the metadata does not \
            describe it yet, or no link has its MAC yet); error (with the reason); excluded \
            (exclude_interfaces / exclude_macs). Reads the kernel and the metadata like diff; \
            changes nothing. Exit status: 0 when every ENI is configured or excluded, 3 otherwise, \
            1 on an error.
            """
    )

    @OptionGroup var options: SharedOptions

    @Flag(help: "Print the status as JSON.")
    var json = false

    func run() throws {
        var config = try options.resolve()
        if options.pendingTimeout == nil { config.pendingTimeoutMilliseconds = 0 }
        let agent = Agent(config: config)
        let (plan, links) = try agent.status()
        print(json ? PlanOutput.statusJSON(plan, links: links, about: agent.about)
                   : PlanOutput.statusText(plan, links: links, about: agent.about), terminator: "")
        if !json { for p in plan.problems { warn("error: \(p)") } }
        let settled = plan.enis.allSatisfy { [.configured, .excluded].contains(plan.condition(of: $0).condition) }
        if !settled || !plan.problems.isEmpty { throw ExitCode(3) }
    }
}
