using System.Collections;
using System.Management.Automation.Runspaces;
using System.Text.RegularExpressions;
using SparseStorage.PowerShell.Tests.Runtime;

namespace SparseStorage.PowerShell.Tests.Plans;

/// <summary>
/// One state-changing command run twice in the real runtime: with -WhatIf -Verbose, which writes the plan's steps
/// ("Plan: …") and must change nothing, and then for real with -Verbose, which writes each step as Apply starts it
/// ("Step: …"). The two lists must be the same steps in the same order; a planned value shown as &lt;…&gt; (known only
/// while running) matches whatever the run put there.
/// </summary>
public static class PlanRoundTrip
{
    public sealed record Outcome(IReadOnlyList<string> Planned, IReadOnlyList<string> Applied, Invocation WhatIf, Invocation Applying);

    /// <summary>
    /// Runs <paramref name="command"/> (without -WhatIf/-Verbose, which are added) with -WhatIf, checks with
    /// <paramref name="state"/> that nothing changed, then runs it for real and asserts the steps match.
    /// </summary>
    public static Outcome Check(PowerShellRuntime runtime, string command, IDictionary parameters, Func<IReadOnlyList<string>> state)
    {
        var before = state();
        var host = new PromptRecordingHost();
        Outcome outcome;
        using (Runspace runspace = runtime.Open(host))
        {
            var whatIf = PowerShellRuntime.Run(runspace, command + " -WhatIf -Verbose", parameters).Succeeded();
            state().Should().Equal(before, "-WhatIf must change nothing");
            host.Prompts.Should().BeEmpty();
            var planned = Lines(whatIf, "Plan: ");
            planned.Should().NotBeEmpty("a plan names the steps it would run");
            var applying = PowerShellRuntime.Run(runspace, command + " -Verbose -Confirm:$false", parameters).Succeeded();
            outcome = new Outcome(planned, Lines(applying, "Step: "), whatIf, applying);
        }
        AssertSameSteps(outcome.Planned, outcome.Applied);
        return outcome;
    }

    /// <summary>
    /// Same count, same order; &lt;…&gt; in a planned step matches any text in the applied one, also where the command
    /// line quotes it as one argument ('&lt;loop device&gt;'), which the applied value (/dev/loop7) needs no quotes for.
    /// </summary>
    public static void AssertSameSteps(IReadOnlyList<string> planned, IReadOnlyList<string> applied)
    {
        applied.Should().HaveCount(planned.Count, "Apply runs exactly the planned steps:\nplanned:\n  {0}\napplied:\n  {1}",
            string.Join("\n  ", planned), string.Join("\n  ", applied));
        for (var i = 0; i < planned.Count; i++)
            applied[i].Should().MatchRegex(Pattern(planned[i]), "step {0} of the plan was '{1}'", i + 1, planned[i]);
    }

    private static string Pattern(string planned) =>
        "^" + string.Join(".+", Regex.Split(planned, "'?<[^<>]+>'?").Select(Regex.Escape)) + "$";

    private static IReadOnlyList<string> Lines(Invocation invocation, string prefix) =>
        invocation.Verbose.Select(v => v.Message).Where(m => m.StartsWith(prefix, StringComparison.Ordinal)).Select(m => m[prefix.Length..]).ToList();
}

/// <summary>Names the cmdlets whose plan round trip a test class checks; every state-changing cmdlet must be named by one.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class CoversPlanOfAttribute(params string[] cmdlets) : Attribute
{
    public IReadOnlyList<string> Cmdlets { get; } = cmdlets;
}
