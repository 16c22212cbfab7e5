using System.Reflection;
using System.Text.RegularExpressions;

namespace SparseStorage.PowerShell.Tests;

/// <summary>Ctrl+C reaches Core: every cmdlet inherits the base's StopProcessing, which cancels the token long work runs with.</summary>
public sealed class CancellationContractTests : IDisposable
{
    private const BindingFlags Declared = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly;
    private readonly CmdletAssembly assembly = new();

    /// <summary>Cmdlets whose work can take more than a second: they give Core both the progress sink and the token.</summary>
    public static TheoryData<string> LongRunning => new()
    {
        "Copy-SparseVolume", "Backup-SparseVolume", "Restore-SparseVolume", "Compress-SparseVolume", "Expand-SparseVolume",
        "Protect-Volume", "Unprotect-Volume", "Resize-SparseVolume", "Optimize-SparseVolume", "Test-SparseVolume",
        "New-VolumeSnapshot", "Restore-VolumeSnapshot", "Remove-VolumeSnapshot", "Remove-SparseVolume",
    };

    [Fact]
    public void The_base_class_cancels_on_StopProcessing_and_every_cmdlet_derives_from_it()
    {
        var baseType = assembly.Cmdlets.GetType("SparseStorage.PowerShell.SparseStorageCmdlet", throwOnError: true)!;
        baseType.GetMethod("StopProcessing", Declared).Should().NotBeNull("SparseStorageCmdlet cancels its token in StopProcessing");
        foreach (var cmdlet in assembly.All)
            cmdlet.Type.IsSubclassOf(baseType).Should().BeTrue($"{cmdlet.Name} must inherit the cancellation of SparseStorageCmdlet");
    }

    [Fact]
    public void Every_override_of_StopProcessing_below_the_base_calls_the_base()
    {
        var sources = Directory.GetFiles(Path.Combine(CmdletAssembly.RepositoryRoot, "src", "SparseStorage.PowerShell"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.EndsWith("SparseStorageCmdlet.cs", StringComparison.Ordinal));
        foreach (var file in sources)
        {
            var text = File.ReadAllText(file);
            if (text.Contains("override void StopProcessing", StringComparison.Ordinal))
                text.Should().Contain("base.StopProcessing()", $"{Path.GetFileName(file)} would otherwise swallow Ctrl+C");
        }
        var overriding = assembly.Cmdlets.GetTypes().Where(t => t.GetMethod("StopProcessing", Declared) is not null).Select(t => t.Name);
        overriding.Should().BeEquivalentTo(["SparseStorageCmdlet", "EncryptedVolumeCmdlet"], "a new override needs the source check above");
    }

    [Theory]
    [MemberData(nameof(LongRunning))]
    public void A_long_running_cmdlet_hands_Core_its_progress_and_its_token(string cmdlet)
    {
        var type = assembly.Get(cmdlet).Type;
        var text = File.ReadAllText(Path.Combine(CmdletAssembly.RepositoryRoot, "src", "SparseStorage.PowerShell", "Commands", type.Name + ".cs"));
        var calls = Regex.Matches(text, @"RunWithProgress\(\((\w+), (\w+)\) =>(?<body>[^;]*)").ToList();
        calls.Should().NotBeEmpty($"{cmdlet} runs its Core work through RunWithProgress, on the base's token");
        foreach (var call in calls)
        {
            var (progress, token, body) = (call.Groups[1].Value, call.Groups[2].Value, call.Groups["body"].Value);
            progress.Should().NotBe("_", $"{cmdlet} must pass the progress sink to Core");
            body.Should().MatchRegex($@"\b{progress}\b").And.MatchRegex($@"\b{token}\b", $"{cmdlet} passes both to the Core call");
        }
    }

    public void Dispose() => assembly.Dispose();
}
