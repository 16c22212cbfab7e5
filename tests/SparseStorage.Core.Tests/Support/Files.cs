using System.Security.Cryptography;

namespace SparseStorage.Core.Tests.Support;

public static class Files
{
    /// <summary>Writes a few files of random content under a directory and returns their SHA-256 sums by relative path.</summary>
    public static Dictionary<string, string> WriteSample(string directory, int count = 4, int size = 3 << 20)
    {
        var sums = new Dictionary<string, string>();
        Directory.CreateDirectory(Path.Combine(directory, "data"));
        for (var i = 0; i < count; i++)
        {
            var relative = Path.Combine("data", $"file{i}.bin");
            var bytes = RandomNumberGenerator.GetBytes(size + i * 4097);
            File.WriteAllBytes(Path.Combine(directory, relative), bytes);
            sums[relative] = Convert.ToHexString(SHA256.HashData(bytes));
        }
        return sums;
    }

    public static Dictionary<string, string> Hash(string directory, IEnumerable<string> relativePaths) =>
        relativePaths.ToDictionary(p => p, p => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(directory, p)))));

    public static string HashFile(string path)
    {
        using var file = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(file));
    }
}
