using System.Reflection;
using System.Text.RegularExpressions;

namespace SparseStorage.PowerShell.Tests.Plans;

/// <summary>
/// Every state-changing cmdlet confirms a plan and nothing else: each one that supports ShouldProcess has its plan
/// round trip checked by a test class naming it in [CoversPlanOf], and no cmdlet asks ShouldProcess or ShouldContinue
/// itself — only the base's ShouldApply(plan) does.
/// </summary>
public sealed partial class EveryCmdletHasAPlanTests : IDisposable
{
    private readonly CmdletAssembly assembly = new();

    public void Dispose() => assembly.Dispose();

    private static IReadOnlySet<string> Covered =>
        typeof(EveryCmdletHasAPlanTests).Assembly.GetTypes().SelectMany(t => t.GetCustomAttributes<CoversPlanOfAttribute>())
            .SelectMany(a => a.Cmdlets).ToHashSet(StringComparer.Ordinal);

    private IReadOnlyList<string> StateChanging => assembly.All.Where(c => c.Named<bool>("SupportsShouldProcess")).Select(c => c.Name).ToList();

    [Fact]
    public void Every_cmdlet_that_supports_ShouldProcess_has_its_plan_round_trip_tested()
    {
        StateChanging.Should().NotBeEmpty();
        StateChanging.Where(name => !Covered.Contains(name)).Should().BeEmpty("every state-changing cmdlet is named by a [CoversPlanOf] test class");
    }

    [Fact]
    public void CoversPlanOf_names_only_cmdlets_that_support_ShouldProcess()
    {
        Covered.Should().NotBeEmpty();
        Covered.Except(StateChanging).Should().BeEmpty("a name that is no state-changing cmdlet is a typo or a cmdlet that is gone");
    }

    [Fact]
    public void No_cmdlet_confirms_anything_except_through_the_base_ShouldApply()
    {
        var source = Path.Combine(CmdletAssembly.RepositoryRoot, "src", "SparseStorage.PowerShell");
        var files = Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") && Path.GetFileName(f) != "SparseStorageCmdlet.cs")
            .ToList();

        files.Should().Contain(f => f.EndsWith(Path.Combine("Commands", "ExportAtaoeDiskCommand.cs")));
        var calls = files.SelectMany(file => File.ReadLines(file).Select((line, index) => (file, line: WithoutComment(line), number: index + 1)))
            .Where(l => DirectConfirmation().IsMatch(l.line))
            .Select(l => $"{Path.GetRelativePath(source, l.file)}:{l.number}: {l.line.Trim()}");
        calls.Should().BeEmpty("cmdlets confirm with ShouldApply(plan), which shows the plan's steps; ShouldProcess, ShouldContinue and the older helpers bypass it");
    }

    private static string WithoutComment(string line) => line.Split("//")[0];

    [GeneratedRegex(@"\b(ShouldProcess|ShouldContinue|ShouldProcessSteps|ShouldProcessUnlessForced|ConfirmHighImpact)\s*\(")]
    private static partial Regex DirectConfirmation();
}
