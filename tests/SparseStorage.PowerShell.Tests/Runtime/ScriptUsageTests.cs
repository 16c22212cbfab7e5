using System.Management.Automation;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// The scripts that ship with the module (examples/) and the Pester suites (tests/pester) parse, and call only cmdlets
/// and parameters the imported module has, by full name or alias: a wrong name would otherwise surface only when the
/// line runs, which for many of them is only as root on a host with every tool.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
public sealed class ScriptUsageTests(PowerShellRuntime runtime)
{
    // Nouns of the module's own families: a command with one of these in its noun is meant to be a module cmdlet,
    // unless the scripts define it as a function.
    private static readonly string[] ModuleNouns = ["SparseVolume", "StoragePool", "StorageHost", "Ataoe", "VolumeSnapshot", "VolumeBackup", "VolumeKey"];

    public static IEnumerable<string> ScriptFiles =>
        new[] { "examples", Path.Combine("tests", "pester") }
            .Select(folder => Path.Combine(CmdletAssembly.RepositoryRoot, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.GetFiles(folder, "*.ps1", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal);

    [Fact]
    public void Every_script_parses()
    {
        ScanAll().SelectMany(s => s.Errors).Should().BeEmpty();
    }

    [Fact]
    public void Scripts_call_only_cmdlets_the_module_has()
    {
        var scans = ScanAll();
        var cmdlets = ModuleCommands();
        var functions = scans.SelectMany(s => s.Functions).ToHashSet(StringComparer.OrdinalIgnoreCase);

        var unknown = scans.SelectMany(s => s.Uses)
            .Where(u => LooksLikeModuleCommand(u.Command) && !cmdlets.ContainsKey(u.Command) && !functions.Contains(u.Command))
            .Select(u => u.ToString());

        unknown.Should().BeEmpty();
    }

    [Fact]
    public void Scripts_give_module_cmdlets_only_parameters_they_have_by_full_name_or_alias()
    {
        var accepted = ModuleCommands().ToDictionary(c => c.Key, c => Accepted(c.Value), StringComparer.OrdinalIgnoreCase);

        var wrong = ScanAll().SelectMany(s => s.Uses).Where(u => accepted.ContainsKey(u.Command))
            .SelectMany(u => u.Parameters.Where(p => !accepted[u.Command].Contains(p)).Select(p => $"{u} -{p}"));

        wrong.Should().BeEmpty();
    }

    [Fact]
    public void The_scan_reaches_every_script_and_finds_the_cmdlets_in_them()
    {
        var files = ScriptFiles.ToList();
        var uses = ScanAll().SelectMany(s => s.Uses).ToList();
        var cmdlets = ModuleCommands();

        files.Should().Contain(f => f.EndsWith(Path.Combine("examples", "quickstart.ps1"), StringComparison.Ordinal));
        files.Should().Contain(f => f.Contains(Path.Combine("pester", "Workflows") + Path.DirectorySeparatorChar, StringComparison.Ordinal));
        uses.Count(u => cmdlets.ContainsKey(u.Command)).Should().BeGreaterThan(300);
        // Find-AtaoeDisk runs only in a child pwsh in another network namespace, from a command string the parser keeps as a string.
        cmdlets.Keys.Except(uses.Select(u => u.Command), StringComparer.OrdinalIgnoreCase)
            .Should().BeEquivalentTo(["Find-AtaoeDisk"], "the scripts use every other cmdlet, so every cmdlet's parameters get checked");
    }

    [Fact]
    public void The_scan_finds_commands_in_pipes_continuations_blocks_and_subexpressions_but_not_in_comments_or_strings()
    {
        const string source = """
            # Get-Nothing -InComment
            <# Remove-Nothing -InBlock #>
            $v = New-SparseVolume -Name 'a # not a comment' -Size 1GB |
                Mount-SparseVolume -MountPoint "/mnt/$(Get-Date -Format x)" -KeyFile ./k `
                    -ReadOnly:$true
            if (Get-StoragePool -Name p -ErrorAction Ignore) { Remove-SparseVolume -Path (Join-Path $a 'b') -Confirm:$false }
            $text = @'
            Get-Here -String
            '@
            function Get-SparseVolumeHelper { param([int] $x) }
            { Get-SparseVolume -Pool x -ErrorAction Stop } | Should -Throw -ErrorId 'A,B'
            & $block -NotACommand
            """;

        var scan = ScriptCommandScanner.Scan("t.ps1", source);

        scan.Errors.Should().BeEmpty();
        scan.Uses.Select(u => $"{u.Line}:{u.Command}:{string.Join(',', u.Parameters)}").Should().BeEquivalentTo(
        [
            "3:New-SparseVolume:Name,Size",
            "4:Mount-SparseVolume:MountPoint,KeyFile,ReadOnly",
            "4:Get-Date:Format",
            "6:Get-StoragePool:Name,ErrorAction",
            "6:Remove-SparseVolume:Path,Confirm",
            "6:Join-Path:",
            "11:Get-SparseVolume:Pool,ErrorAction",
            "11:Should:Throw,ErrorId",
        ]);
        scan.Functions.Should().BeEquivalentTo(["Get-SparseVolumeHelper"]);
    }

    /// <summary>The module's commands as the imported module exposes them, common parameters included.</summary>
    private Dictionary<string, CommandInfo> ModuleCommands() =>
        runtime.Run("Get-Command -Module SparseStorage -CommandType Cmdlet").Succeeded()
            .Objects<CommandInfo>().ToDictionary(c => c.Name, StringComparer.OrdinalIgnoreCase);

    private static List<ScriptScan> ScanAll() =>
        ScriptFiles.Select(file => ScriptCommandScanner.ScanFile(file, Path.GetRelativePath(CmdletAssembly.RepositoryRoot, file))).ToList();

    private static bool LooksLikeModuleCommand(string command) =>
        command.Split('-', 2) is [_, var noun] && (noun.Equals("Volume", StringComparison.OrdinalIgnoreCase)
                                                   || ModuleNouns.Any(n => noun.Contains(n, StringComparison.OrdinalIgnoreCase)));

    private static HashSet<string> Accepted(CommandInfo command) =>
        command.Parameters.Values.SelectMany(p => p.Aliases.Prepend(p.Name)).ToHashSet(StringComparer.OrdinalIgnoreCase);
}
