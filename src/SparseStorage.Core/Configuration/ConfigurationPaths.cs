using SparseStorage.Core.Native;

namespace SparseStorage.Core.Configuration;

/// <summary>Paths as the desired state and the host compare them: absolute, symlinks resolved where they exist, no trailing '/'.</summary>
public static class ConfigurationPaths
{
    public static string RequireAbsolute(string path, string property) =>
        Path.IsPathFullyQualified(path)
            ? path
            : throw new InvalidStorageArgumentException("DesiredStatePathNotAbsolute", $"The property {property} must be an absolute path, not '{path}'.", path);

    /// <summary>The mount table and the pool registry hold resolved paths; a symlinked desired path must compare equal to them.</summary>
    public static string Normalize(string path)
    {
        var full = Path.GetFullPath(path);
        var resolved = LibcPaths.RealPath(full) ?? full;
        return resolved.Length > 1 ? resolved.TrimEnd('/') : resolved;
    }

    public static bool AreSame(string a, string b) => Normalize(a) == Normalize(b);
}
