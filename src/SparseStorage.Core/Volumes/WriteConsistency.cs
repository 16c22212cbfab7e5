namespace SparseStorage.Core.Volumes;

/// <summary>How a copy of a volume taken while it might be written (a snapshot, a backup) was kept consistent.</summary>
// Backed by long so that ConvertTo-Json writes the name, not a number (docs/json.md).
public enum WriteConsistency : long
{
    /// <summary>The volume was not attached: nothing could write to it.</summary>
    Detached,
    /// <summary>The volume was attached or mounted read-only.</summary>
    ReadOnly,
    /// <summary>Its filesystem was frozen (fsfreeze) for the duration: the copy is what a clean unmount would leave.</summary>
    Frozen,
    /// <summary>Taken while writes could continue, as the operator allowed: the filesystem in the copy may need a check.</summary>
    Unfrozen,
}
