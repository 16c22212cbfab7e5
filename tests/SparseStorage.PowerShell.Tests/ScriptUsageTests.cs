namespace SparseStorage.PowerShell.Tests;

/// <summary>
/// The scripts that ship with the module (examples/) and the Pester suites (tests/pester) call only cmdlets and
/// parameters the compiled module has. PowerShell is not always installable where the module is built, so a wrong
/// cmdlet or parameter name in a script would otherwise surface only where pwsh runs it.
/// </summary>
public sealed class ScriptUsageTests : IDisposable
{
    private static readonly string[] CommonParameters =
    [
        "Verbose", "Debug", "ErrorAction", "WarningAction", "InformationAction", "ProgressAction", "ErrorVariable",
        "WarningVariable", "InformationVariable", "OutVariable", "OutBuffer", "PipelineVariable",
        "vb", "db", "ea", "wa", "infa", "proga", "ev", "wv", "iv", "ov", "ob", "pv",
    ];

    // Nouns of the module's own families: a command with one of these in its noun is meant to be a module cmdlet,
    // unless the scripts define it as a function.
    private static readonly string[] ModuleNouns = ["SparseVolume", "StoragePool", "StorageHost", "Ataoe", "VolumeSnapshot", "VolumeBackup", "VolumeKey"];

    private readonly CmdletAssembly assembly = new();

    public static IEnumerable<string> ScriptFiles =>
        new[] { "examples", Path.Combine("tests", "pester") }
            .Select(folder => Path.Combine(CmdletAssembly.RepositoryRoot, folder))
            .Where(Directory.Exists)
            .SelectMany(folder => Directory.GetFiles(folder, "*.ps1", SearchOption.AllDirectories))
            .Order(StringComparer.Ordinal);

    [Fact]
    public void Scripts_call_only_cmdlets_the_module_has()
    {
        var (uses, functions) = ScanAll();
        var cmdlets = assembly.All.Select(c => c.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);

        var unknown = uses.Where(u => LooksLikeModuleCommand(u.Command) && !cmdlets.Contains(u.Command) && !functions.Contains(u.Command))
            .Select(u => u.ToString());

        unknown.Should().BeEmpty();
    }

    [Fact]
    public void Scripts_give_module_cmdlets_only_parameters_they_have_by_full_name_or_alias()
    {
        var (uses, _) = ScanAll();
        var accepted = assembly.All.ToDictionary(c => c.Name, Accepted, StringComparer.OrdinalIgnoreCase);

        var wrong = uses.Where(u => accepted.ContainsKey(u.Command))
            .SelectMany(u => u.Parameters.Where(p => !accepted[u.Command].Contains(p)).Select(p => $"{u} -{p}"));

        wrong.Should().BeEmpty();
    }

    [Fact]
    public void The_scan_reaches_every_script_and_finds_the_cmdlets_in_them()
    {
        var files = ScriptFiles.ToList();
        var (uses, _) = ScanAll();
        var cmdlets = assembly.All.Select(c => c.Name).ToHashSet(StringComparer.OrdinalIgnoreCase);

        files.Should().Contain(f => f.EndsWith(Path.Combine("examples", "quickstart.ps1"), StringComparison.Ordinal));
        files.Should().Contain(f => f.Contains(Path.Combine("pester", "Workflows") + Path.DirectorySeparatorChar, StringComparison.Ordinal));
        uses.Count(u => cmdlets.Contains(u.Command)).Should().BeGreaterThan(300);
        // Find-AtaoeDisk runs only in a child pwsh in another network namespace, from a command string the scan cannot see into.
        cmdlets.Except(uses.Select(u => u.Command), StringComparer.OrdinalIgnoreCase)
            .Should().BeEquivalentTo(["Find-AtaoeDisk"], "the scripts use every other cmdlet, so every cmdlet's parameters get checked");
    }

    [Fact]
    public void The_scanner_follows_pipes_continuations_nesting_strings_and_comments()
    {
        const string source = """
            # Get-Nothing -InComment
            <# Remove-Nothing -InBlock #>
            $v = New-SparseVolume -Name 'a # not a comment' -Size 1GB |
                Mount-SparseVolume -MountPoint "/mnt/$(Get-Date -Format x)" -KeyFile ./k `
                    -ReadOnly:$true
            if (Get-StoragePool -Name p -ErrorAction Ignore) { Remove-SparseVolume -Path (Join-Path $a 'b') -Confirm:$false }
            @{ Name = Get-StorageHost -Verbose; Size = 1 } | Out-Null
            $text = @"
            Get-Here -String
            "@
            function Get-SparseVolumeHelper { param([int] $x) }
            { Get-SparseVolume -Pool x -ErrorAction Stop } | Should -Throw -ErrorId 'A,B'
            """;

        var (uses, functions) = ScriptCommandScanner.Scan("t.ps1", source);

        uses.Select(u => $"{u.Line}:{u.Command}:{string.Join(',', u.Parameters)}").Should().BeEquivalentTo(
        [
            "3:New-SparseVolume:Name,Size",
            "4:Mount-SparseVolume:MountPoint,KeyFile,ReadOnly",
            "6:Get-StoragePool:Name,ErrorAction",
            "6:Remove-SparseVolume:Path,Confirm",
            "6:Join-Path:",
            "7:Get-StorageHost:Verbose",
            "7:Out-Null:",
            "12:Get-SparseVolume:Pool,ErrorAction",
        ], options => options.WithoutStrictOrdering());
        functions.Should().BeEquivalentTo(["Get-SparseVolumeHelper"]);
    }

    public void Dispose() => assembly.Dispose();

    private static (List<CommandUse> Uses, HashSet<string> Functions) ScanAll()
    {
        var uses = new List<CommandUse>();
        var functions = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var file in ScriptFiles)
        {
            var (fileUses, fileFunctions) = ScriptCommandScanner.Scan(Path.GetRelativePath(CmdletAssembly.RepositoryRoot, file), File.ReadAllText(file));
            uses.AddRange(fileUses);
            functions.UnionWith(fileFunctions);
        }
        return (uses, functions);
    }

    private static bool LooksLikeModuleCommand(string command) =>
        command.Split('-', 2) is [_, var noun] && (noun.Equals("Volume", StringComparison.OrdinalIgnoreCase)
                                                   || ModuleNouns.Any(n => noun.Contains(n, StringComparison.OrdinalIgnoreCase)));

    private static HashSet<string> Accepted(CmdletInfo cmdlet)
    {
        var names = new HashSet<string>(CommonParameters, StringComparer.OrdinalIgnoreCase);
        foreach (var parameter in cmdlet.Parameters)
        {
            names.Add(parameter.Name);
            names.UnionWith(parameter.Aliases);
        }
        if (cmdlet.Named<bool>("SupportsShouldProcess"))
            names.UnionWith(["WhatIf", "Confirm", "wi", "cf"]);
        return names;
    }
}
