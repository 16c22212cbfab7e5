namespace SparseStorage.Core.Aoe;

/// <summary>What Export-AtaoeDisk asks for. A null <see cref="Slot"/> means "the lowest free slot on that shelf and interface".</summary>
public sealed record AtaoeExportRequest
{
    public const int MaxMacAllow = 32;

    public required SparseVolume Volume { get; init; }
    public int Shelf { get; init; }
    public int? Slot { get; init; }
    public required string Interface { get; init; }
    public bool ReadOnly { get; init; }
    public IReadOnlyList<string> MacAllow { get; init; } = [];
    public bool Direct { get; init; }
    public bool Sync { get; init; }
    /// <summary>Start again an export whose vblade died (or whose record is stale) at the same address.</summary>
    public bool Restart { get; init; }

    /// <summary>Parses a slot as Export-AtaoeDisk takes it: a number, or "Auto".</summary>
    public static int? ParseSlot(string text) =>
        string.Equals(text, "Auto", StringComparison.OrdinalIgnoreCase) ? null
        : int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var slot) ? slot
        : throw new InvalidStorageArgumentException("InvalidAoeSlot", $"-Slot takes a number from 0 to {AoeProtocol.MaxSlot} or 'Auto'; '{text}' is neither.", text);
}
