using SparseStorage.Core.Host;
using SparseStorage.Core.Native;
using SparseStorage.Core.Pools;
using SparseStorage.Core.Processes;

namespace SparseStorage.Core;

/// <summary>The shared dependencies of every Core service: configuration, the process seam, run-time paths.</summary>
public sealed class StorageContext(PoolService pools, IProcessRunner runner, RuntimePaths runtime, bool isRoot)
{
    public static StorageContext CreateDefault(Planning.StepJournal? journal = null) =>
        new(new PoolService(PoolConfiguration.Default), new ProcessRunner(), RuntimePaths.Default, Libc.geteuid() == 0) { Journal = journal };

    public PoolService Pools { get; } = pools;
    public IProcessRunner Runner { get; } = runner;
    public RuntimePaths Runtime { get; } = runtime;
    public bool IsRoot { get; } = isRoot;

    /// <summary>Hears every step a plan's Apply runs, as it starts; null when nobody listens.</summary>
    public Planning.StepJournal? Journal { get; init; }

    /// <summary>How long a mutation waits for another operation on the same volume before failing.</summary>
    public TimeSpan LockWait { get; init; } = TimeSpan.FromSeconds(10);

    public void RequireRoot(string operation)
    {
        if (!IsRoot)
            throw new NotRootException(operation);
    }

    /// <summary>Takes the volume's exclusive lock, so two runbooks cannot change one volume at once.</summary>
    public FileLock LockVolume(string volumePath, CancellationToken cancellationToken = default) =>
        LockVolume(volumePath, LockWait, cancellationToken);

    /// <summary>Takes the volume's lock, waiting at most <paramref name="wait"/> (zero: only if nobody holds it).</summary>
    public FileLock LockVolume(string volumePath, TimeSpan wait, CancellationToken cancellationToken = default) =>
        FileLock.Acquire(Path.Combine(Runtime.Ensure(Runtime.Locks), Devices.FuseExportRecord.KeyFor(volumePath) + ".lock"),
            wait, $"volume {volumePath}", cancellationToken);

    public AttachmentState ReadAttachments() => AttachmentState.Read(Runtime);

    /// <summary>A FUSE exporter that opens only the files of an image's checked chain in its pool.</summary>
    public Devices.FuseExporter FuseExporter() => new(Runner, Runtime, new Volumes.ImageReferences(() => Pools.DirectoryDefinitions()));
}
