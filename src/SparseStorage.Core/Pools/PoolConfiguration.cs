using System.Text.Json;
using System.Text.Json.Serialization;
using SparseStorage.Core.Native;

namespace SparseStorage.Core.Pools;

/// <summary>
/// The pools.json file. Location: $SPARSESTORAGE_CONFIG, else /etc/sparsestorage/pools.json for root, else
/// $XDG_CONFIG_HOME/sparsestorage/pools.json (~/.config when unset). Writes replace the file atomically.
/// </summary>
public sealed class PoolConfiguration(string path)
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string FilePath { get; } = path;

    public static PoolConfiguration Default => new(DefaultPath());

    public static string DefaultPath()
    {
        if (Environment.GetEnvironmentVariable("SPARSESTORAGE_CONFIG") is { Length: > 0 } configured)
            return configured;
        if (Libc.geteuid() == 0)
            return "/etc/sparsestorage/pools.json";
        var xdg = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME") is { Length: > 0 } x
            ? x
            : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
        return System.IO.Path.Combine(xdg, "sparsestorage", "pools.json");
    }

    private sealed record Document(List<PoolDefinition> Pools);

    public IReadOnlyList<PoolDefinition> Load()
    {
        if (!File.Exists(FilePath))
            return [];
        try
        {
            return JsonSerializer.Deserialize<Document>(IoFailure.Reading(FilePath, () => File.ReadAllText(FilePath)), Json)?.Pools ?? [];
        }
        catch (JsonException e)
        {
            throw new StorageOperationException("PoolConfigurationInvalid",
                $"The pool configuration {FilePath} is not valid JSON ({e.Message}); fix or remove it.", FilePath, e);
        }
    }

    /// <summary>Reads, changes and writes the configuration under an exclusive lock, so concurrent registrations do not lose each other.</summary>
    public void Update(Func<IReadOnlyList<PoolDefinition>, IReadOnlyList<PoolDefinition>> change)
    {
        var directory = System.IO.Path.GetDirectoryName(FilePath)!;
        Directory.CreateDirectory(directory);
        using var gate = FileLock.Acquire(FilePath + ".lock", TimeSpan.FromSeconds(30), "the pool configuration");
        Save(change(Load()));
    }

    private void Save(IReadOnlyList<PoolDefinition> pools)
    {
        var temporary = FilePath + ".tmp-" + Environment.ProcessId;
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        {
            JsonSerializer.Serialize(stream, new Document(pools.ToList()), Json);
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, FilePath, overwrite: true);
    }
}
