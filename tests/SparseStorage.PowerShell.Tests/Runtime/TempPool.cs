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

    /// <summary>An empty directory outside the pool, for archives and backups; made on first use.</summary>
    public string Spare => System.IO.Directory.CreateDirectory(Directory + "-spare").FullName;

    /// <summary>
    /// A raw ext4 volume r and a qcow2 volume q with one snapshot, s0, as parameters for commands: Raw, Qcow, Pool,
    /// PoolPath and Spare.
    /// </summary>
    public Hashtable NewVolumes()
    {
        var qcow = NewVolume("q", extra: "-Format Qcow2");
        runtime.Run("New-VolumeSnapshot -VolumePath $Qcow -Name s0", new Hashtable { ["Qcow"] = qcow }).Succeeded();
        return new Hashtable
        {
            ["Raw"] = NewVolume("r", extra: "-FileSystem Ext4"), ["Qcow"] = qcow, ["Pool"] = Name, ["PoolPath"] = Directory, ["Spare"] = Spare,
        };
    }

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
        if (System.IO.Directory.Exists(Directory + "-spare"))
            System.IO.Directory.Delete(Directory + "-spare", recursive: true);
    }
}
