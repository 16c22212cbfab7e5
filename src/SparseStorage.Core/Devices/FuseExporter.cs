using System.Globalization;
using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core.Devices;

/// <summary>
/// Exposes a qcow2 image, or the plaintext of a LUKS or qcow2+LUKS image, as a raw file through
/// qemu-storage-daemon's FUSE export, so the kernel's loop driver can attach it. The daemon outlives the PowerShell
/// session; a record in the runtime directory finds it again. A key reaches the daemon only as a secret file that
/// the caller deletes once the daemon has started. With <paramref name="references"/>, a qcow2 image's backing chain
/// and data file are named to qemu explicitly, checked to lie in the image's pool, so the daemon opens nothing a header
/// names on its own.
/// </summary>
public sealed class FuseExporter(IProcessRunner runner, RuntimePaths runtime, Volumes.ImageReferences? references = null)
{
    private const int SigTerm = 15;
    private const int SigKill = 9;

    public ToolCommand StartCommand(string volumePath, FuseExportOptions options)
    {
        var directory = runtime.FuseExports;
        var readOnly = options.ReadOnly;
        var readOnlyOption = readOnly ? ",read-only=on" : "";
        var discard = options.Discards ? ",discard=unmap" : ",discard=ignore";
        var rbd = options.Layer is ExportLayer.Rbd or ExportLayer.RbdLuks;
        // qemu hands an rbd key-secret to librados base64-encoded; a cephx key already is base64.
        var secret = options.Secret is null ? [] : new[] { "--object", options.Secret.QemuObject("key0") + (rbd ? ",format=base64" : "") };
        var passphrase = options.Passphrase is null ? [] : new[] { "--object", options.Passphrase.QemuObject("key1") };
        var keyOption = options.Secret is null ? "" : options.Layer is ExportLayer.Luks || rbd ? ",key-secret=key0" : ",encrypt.format=luks,encrypt.key-secret=key0";
        string[] blockdevs = options.Layer switch
        {
            ExportLayer.Rbd => ["--blockdev", $"{options.RbdBlockdev},node-name=disk0{readOnlyOption}{discard}{keyOption}"],
            // LUKS stacked on the rbd node in the same daemon: librbd reads the ciphertext, qemu decrypts it.
            ExportLayer.RbdLuks => ["--blockdev", $"{options.RbdBlockdev},node-name=rbd0{readOnlyOption}{discard}{keyOption}",
                "--blockdev", $"driver=luks,node-name=disk0,file=rbd0{readOnlyOption}{discard},key-secret=key1"],
            _ => ["--blockdev", $"driver=file,node-name=file0,filename={Escape(volumePath)}{readOnlyOption}{discard}",
               "--blockdev", $"driver={(options.Layer == ExportLayer.Luks ? "luks" : "qcow2")},node-name=disk0,file=file0{readOnlyOption}{discard}{keyOption}{ReferenceOptions(volumePath, options.Layer)}"],
        };
        return new ToolCommand("qemu-storage-daemon", secret.Concat(passphrase).Concat([
            .. blockdevs,
            "--export", $"type=fuse,id=export0,node-name=disk0,mountpoint={Escape(FuseExportRecord.ExportPathFor(directory, volumePath))},writable={(readOnly ? "off" : "on")}",
            "--chardev", $"socket,id=qmp0,path={Escape(FuseExportRecord.MonitorPath(directory, volumePath))},server=on,wait=off",
            "--monitor", "chardev=qmp0",
            "--pidfile", FuseExportRecord.PidFilePath(directory, volumePath),
            "--daemonize"]));
    }

    private string ReferenceOptions(string volumePath, ExportLayer layer) =>
        layer == ExportLayer.Qcow2 && references is not null && File.Exists(volumePath) ? references.QemuOptions(volumePath) : "";

    /// <summary>
    /// Starts the daemon. Its record is written first, naming this process as its owner, so that a kill at any moment
    /// leaves a record that Lock-Volume and the sweep can act on; the daemon's pid is added once it runs.
    /// The export stays owned by this process until <see cref="Release"/> hands it over to the host.
    /// </summary>
    public FuseExportRecord Start(string volumePath, FuseExportOptions options, CancellationToken cancellationToken)
    {
        // Readable by all (0755): the records name volumes and daemons, no secrets, and a non-root session must see them.
        var directory = runtime.Ensure(runtime.FuseExports, UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var record = new FuseExportRecord(volumePath, FuseExportRecord.ExportPathFor(directory, volumePath), 0, options.Decrypts, options.LockWithDismount)
        {
            Owner = ProcessIdentity.Current,
        };
        File.Delete(record.PidFile); // a stale one would name another process
        record.Save(directory);
        try
        {
            File.WriteAllBytes(record.ExportPath, []); // qemu mounts the export over an existing regular file
            var result = runner.Run(StartCommand(volumePath, options), cancellationToken);
            if (result.ExitCode != 0 && options.Decrypts && result.StandardError.Contains("Invalid password", StringComparison.Ordinal))
                throw new WrongKeyException($"The key does not open {volumePath}.", volumePath);
            result.EnsureSuccess();
            record = record with
            {
                ProcessId = FuseExportRecord.ReadPidFile(record.PidFile)
                            ?? throw new StorageOperationException("DaemonPidMissing", $"qemu-storage-daemon started for {volumePath} but wrote no pid to {record.PidFile}.", volumePath),
            };
            record.Save(directory);
            return record;
        }
        catch
        {
            StopAfterFailedStart(record with { ProcessId = FuseExportRecord.ReadPidFile(record.PidFile) ?? 0 });
            throw;
        }
    }

    /// <summary>A daemon may run even when starting "failed" (cancelled while it set up); it goes, without hiding the error that matters.</summary>
    private void StopAfterFailedStart(FuseExportRecord record)
    {
        try
        {
            Stop(record, CancellationToken.None);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or SparseStorageException)
        {
            // The record stays: Lock-Volume and the sweep find what is left.
        }
    }

    /// <summary>Hands a started export over to the host: it no longer dies with the operation that started it.</summary>
    public void Release(string volumePath)
    {
        var directory = runtime.FuseExports;
        if (FuseExportRecord.Read(directory, volumePath) is { Owner: not null } record)
            (record with { Owner = null }).Save(directory);
    }

    /// <summary>
    /// Remembers in the export's record the loop device just attached to its file, so that the loop is still found
    /// when the daemon has exited and the file's path no longer names it. Nothing for a volume without an export.
    /// </summary>
    public void RecordLoop(string volumePath, string device)
    {
        var directory = runtime.FuseExports;
        if (FuseExportRecord.Read(directory, volumePath) is { } record && LoopDevices.Find(device) is { } loop && loop.BackingFile == record.ExportPath)
            (record with { Loop = LoopIdentity.Of(loop) }).Save(directory);
    }

    /// <summary>
    /// The step that takes an export down, saying what it will do: stop a live daemon; after a dead one, lift the FUSE
    /// mount it left (if any) and remove its record.
    /// </summary>
    public static string StopStep(FuseExportRecord export) =>
        export.IsDaemonAlive ? $"stop qemu-storage-daemon (pid {export.ProcessId.ToString(CultureInfo.InvariantCulture)})"
        : MountTable.Read().Any(m => m.MountPoint == export.ExportPath)
            ? $"unmount the FUSE export {export.ExportPath} of qemu-storage-daemon (pid {export.ProcessId.ToString(CultureInfo.InvariantCulture)}), which is gone, and remove its record"
            : $"remove the record of the FUSE export {export.ExportPath}, whose qemu-storage-daemon (pid {export.ProcessId.ToString(CultureInfo.InvariantCulture)}) is gone";

    /// <summary>Stops the daemon (TERM, then KILL after 10 s), lifts a FUSE mount it left behind, and removes the record.</summary>
    public void Stop(FuseExportRecord record, CancellationToken cancellationToken)
    {
        if (record.IsDaemonAlive)
        {
            Libc.kill(record.ProcessId, SigTerm);
            if (!WaitForExit(record.ProcessId, TimeSpan.FromSeconds(10)))
            {
                Libc.kill(record.ProcessId, SigKill);
                WaitForExit(record.ProcessId, TimeSpan.FromSeconds(5));
            }
        }
        if (MountTable.Read().Any(m => m.MountPoint == record.ExportPath))
            runner.RunChecked(Mounter.UnmountCommand(record.ExportPath), cancellationToken);
        RemoveFiles(Path.GetDirectoryName(record.ExportPath)!, record.VolumePath, record.ExportPath);
    }

    /// <summary>Grows or shrinks the image under a running export (QMP block_resize); the FUSE file follows the new size.</summary>
    public void Resize(FuseExportRecord record, long newSize)
    {
        using var monitor = QmpClient.Connect(record.MonitorSocketPath, TimeSpan.FromSeconds(30));
        monitor.Execute("block_resize", new System.Text.Json.Nodes.JsonObject { ["node-name"] = "disk0", ["size"] = newSize });
        // The kernel caches the FUSE file's attributes for a while; a loop capacity refresh before it sees the new
        // length would keep the old size.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (new FileInfo(record.ExportPath).Length != newSize)
        {
            if (DateTime.UtcNow > deadline)
                throw new StorageOperationException("ExportResizePending",
                    $"qemu-storage-daemon resized {record.VolumePath} to {newSize} bytes, but its FUSE export still shows {new FileInfo(record.ExportPath).Length}; dismount and mount the volume to see the new size.", record.VolumePath);
            Thread.Sleep(50);
        }
    }

    private static bool WaitForExit(int pid, TimeSpan wait)
    {
        var deadline = DateTime.UtcNow + wait;
        while (Directory.Exists($"/proc/{pid}") && !IsZombie(pid))
        {
            if (DateTime.UtcNow > deadline)
                return false;
            Thread.Sleep(20);
        }
        return true;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return true;
        }
    }

    /// <summary>The record goes last, so that an interruption here still leaves it to find the rest.</summary>
    private static void RemoveFiles(string directory, string volumePath, string exportPath)
    {
        foreach (var file in new[] { exportPath, FuseExportRecord.PidFilePath(directory, volumePath), FuseExportRecord.MonitorPath(directory, volumePath), FuseExportRecord.RecordPath(directory, volumePath) })
            File.Delete(file);
    }

    /// <summary>qemu's option syntax doubles a comma inside a value.</summary>
    internal static string Escape(string value) => value.Replace(",", ",,", StringComparison.Ordinal);
}

/// <summary>The block driver between the image and the export: qcow2 or LUKS on an image file, or qemu's rbd driver (librbd).</summary>
public enum ExportLayer
{
    Qcow2,
    Luks,
    Rbd,
    /// <summary>A LUKS1 container inside an RBD image: qemu's luks driver on top of its rbd driver.</summary>
    RbdLuks,
}

/// <summary>
/// How to export: <see cref="Secret"/> unlocks an encrypted image; <see cref="Discards"/> passes trims down to the
/// image (on for plain qcow2; off by default for encrypted volumes, since holes reveal which sectors are free).
/// </summary>
public sealed record FuseExportOptions(ExportLayer Layer, bool ReadOnly, bool Discards = true, Encryption.SecretFile? Secret = null, bool LockWithDismount = false)
{
    public static FuseExportOptions Qcow2(bool readOnly) => new(ExportLayer.Qcow2, readOnly);

    /// <summary>The rbd blockdev (driver=rbd,pool=…,image=…,conf=…,user=…; the node name is added) of an rbd export.</summary>
    public string? RbdBlockdev { get; init; }

    /// <summary>The LUKS passphrase of an <see cref="ExportLayer.RbdLuks"/> export (<see cref="Secret"/> is then the Ceph key).</summary>
    public Encryption.SecretFile? Passphrase { get; init; }

    /// <summary>Whether the export shows decrypted plaintext (the volume is unlocked while it runs).</summary>
    public bool Decrypts => Layer == ExportLayer.RbdLuks || (Secret is not null && Layer != ExportLayer.Rbd);
}
