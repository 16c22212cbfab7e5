namespace SparseStorage.Core.Configuration;

/// <summary>Whether a desired-state resource should exist.</summary>
public enum Ensure
{
    Present,
    Absent,
}
