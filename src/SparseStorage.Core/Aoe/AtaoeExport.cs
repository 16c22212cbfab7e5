namespace SparseStorage.Core.Aoe;

/// <summary>What is known of an export's vblade right now.</summary>
// Backed by long so that ConvertTo-Json writes the name, not a number (docs/json.md).
public enum AtaoeExportState : long
{
    /// <summary>The recorded vblade is alive.</summary>
    Running,
    /// <summary>The recorded vblade has exited or was killed since it was started: the export is down until restarted or stopped.</summary>
    Dead,
    /// <summary>The record refers to no process of its own: written before a reboot, or its process id now belongs to another program.</summary>
    Stale,
}

/// <summary>A volume exported as an AoE target by a vblade that the module started and supervises.</summary>
public sealed class AtaoeExport
{
    /// <summary>The volume's name.</summary>
    public required string Volume { get; init; }
    /// <summary>The volume's image file, which vblade serves.</summary>
    public required string VolumePath { get; init; }
    public int Shelf { get; init; }
    public int Slot { get; init; }
    public required string Interface { get; init; }
    public bool ReadOnly { get; init; }
    /// <summary>The initiators allowed to see the target (empty: every host on the segment).</summary>
    public IReadOnlyList<string> MacAllow { get; init; } = [];
    /// <summary>vblade opens the image with O_DIRECT.</summary>
    public bool Direct { get; init; }
    /// <summary>vblade opens the image with O_SYNC: writes are on disk before they are acknowledged.</summary>
    public bool Sync { get; init; }
    public int ProcessId { get; init; }
    public DateTime StartedUtc { get; init; }
    public AtaoeExportState State { get; init; }
    /// <summary>The network namespace the export lives in, as /proc/PID/ns/net names it (net:[inode]).</summary>
    public string NetworkNamespace { get; init; } = "";
    /// <summary>vblade's output (its start line and any error), in the root-only state directory.</summary>
    public string LogPath { get; init; } = "";
    /// <summary>The device name an initiator with the aoe driver sees.</summary>
    public string Target => $"e{Shelf}.{Slot}";

    public override string ToString() => $"{Target} on {Interface}";
}
