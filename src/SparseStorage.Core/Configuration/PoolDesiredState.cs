using System.Collections;
using SparseStorage.Core.Pools;

namespace SparseStorage.Core.Configuration;

/// <summary>What the SparseStoragePool DSC resource was asked for: a pool name registered for a directory, or no such pool.</summary>
public sealed record PoolDesiredState
{
    public Ensure Ensure { get; init; } = Ensure.Present;
    public required string Name { get; init; }
    /// <summary>The pool's directory; required when Present.</summary>
    public string? Path { get; init; }

    /// <summary>Reads and validates the resource's properties (a PowerShell hashtable).</summary>
    public static PoolDesiredState FromProperties(IDictionary properties)
    {
        var read = new ResourceProperties(properties);
        return new PoolDesiredState
        {
            Ensure = read.Choice("Ensure", Ensure.Present, Ensure.Absent) ?? Ensure.Present,
            Name = read.RequiredText("Name", "SparseStoragePool"),
            Path = read.Text("Path"),
        }.Validated();
    }

    public PoolDesiredState Validated()
    {
        Names.RequireValid(Name, "Pool");
        if (Ensure == Ensure.Present)
            ConfigurationPaths.RequireAbsolute(
                Path ?? throw new InvalidStorageArgumentException("DesiredStatePropertyMissing", $"SparseStoragePool '{Name}': Path is required when Ensure is Present.", Name),
                "Path");
        return this;
    }
}
