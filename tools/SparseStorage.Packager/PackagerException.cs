namespace SparseStorage.Packager;

/// <summary>A packaging input is missing or malformed. The message is meant for the person running the build.</summary>
public sealed class PackagerException(string message) : Exception(message);
