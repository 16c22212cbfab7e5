using System.Reflection;

namespace SparseStorage.PowerShell.Tests;

/// <summary>
/// Ctrl+C reaches Core: every cmdlet inherits the base's StopProcessing, which cancels the token long work runs with
/// (Runtime/StopAndProgressTests stops the long-running cmdlets for real).
/// </summary>
public sealed class CancellationContractTests : IDisposable
{
    private const BindingFlags Declared = BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public | BindingFlags.DeclaredOnly;
    private readonly CmdletAssembly assembly = new();

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

    public void Dispose() => assembly.Dispose();
}
