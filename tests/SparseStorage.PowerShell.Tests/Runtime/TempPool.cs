using System.Collections;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>A pool registered through Register-StoragePool in a directory of its own; disposing removes both.</summary>
public sealed class TempPool : IDisposable
{
    private readonly PowerShellRuntime runtime;

    public TempPool(PowerShellRuntime runtime)
    {
        this.runtime = runtime;
        Name = "t" + Guid.NewGuid().ToString("N")[..10];
        Directory = System.IO.Directory.CreateDirectory(System.IO.Path.Combine(runtime.Root, Name)).FullName;
        runtime.Run("Register-StoragePool -Name $Name -Path $Path -Confirm:$false", new Hashtable { ["Name"] = Name, ["Path"] = Directory })
            .Succeeded();
    }

    public string Name { get; }
    public string Directory { get; }

    /// <summary>A new volume made by New-SparseVolume; extra is appended to the command line.</summary>
    public string NewVolume(string name, string size = "16MB", string extra = "")
    {
        var created = runtime.Run($"New-SparseVolume -Name $Name -Pool $Pool -Size {size} {extra} -Confirm:$false",
            new Hashtable { ["Name"] = name, ["Pool"] = Name }).Succeeded();
        return (string)created.Output.Single().Properties["Path"].Value;
    }

    /// <summary>Every file under the pool with its size and modification time, to show that nothing changed.</summary>
    public IReadOnlyList<string> Snapshot() =>
        System.IO.Directory.EnumerateFileSystemEntries(Directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => new FileInfo(p) is { Exists: true } f ? $"{p} {f.Length} {f.LastWriteTimeUtc:O}" : p).ToList();

    /// <summary>The names of the files and folders in the pool directory.</summary>
    public IReadOnlyList<string> Names() =>
        System.IO.Directory.EnumerateFileSystemEntries(Directory).Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal).ToList()!;

    public void Dispose()
    {
        runtime.Run("Unregister-StoragePool -Name $Name -Confirm:$false", new Hashtable { ["Name"] = Name });
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
