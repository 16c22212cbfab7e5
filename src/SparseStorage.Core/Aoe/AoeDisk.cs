using System.Diagnostics;

namespace SparseStorage.Core.Aoe;

/// <summary>How the client talks to one target.</summary>
public sealed record AoeDiskOptions
{
    /// <summary>Requests in flight at once; null: the target's buffer count. 1 sends one request at a time.</summary>
    public int? MaxInFlight { get; init; }
    /// <summary>How long a request waits for its answer before it is sent again.</summary>
    public TimeSpan RetransmitAfter { get; init; } = TimeSpan.FromMilliseconds(250);
    /// <summary>How often a request is sent before the target counts as unreachable.</summary>
    public int MaxAttempts { get; init; } = 8;
}

/// <summary>
/// Sector I/O with one AoE target: ATA READ/WRITE SECTORS EXT (LBA48), each request as many sectors as a frame on
/// this interface carries, up to the target's buffer count in flight, and a request resent (with a new tag) when its
/// answer does not come in time.
/// </summary>
public sealed class AoeDisk
{
    private readonly PacketSocket socket;
    private readonly AoeDiskOptions options;
    private readonly byte[] receiveBuffer = new byte[64 * 1024];

    internal AoeDisk(PacketSocket socket, MacAddress target, int shelf, int slot, int bufferCount, int targetSectorsPerFrame, AoeDiskOptions? options)
    {
        this.socket = socket;
        this.options = options ?? new AoeDiskOptions();
        TargetAddress = target;
        Shelf = (ushort)shelf;
        Slot = (byte)slot;
        SectorsPerRequest = Math.Max(1, Math.Min(AoeProtocol.SectorsPerFrame(socket.Mtu), targetSectorsPerFrame > 0 ? targetSectorsPerFrame : int.MaxValue));
        MaxInFlight = Math.Max(1, Math.Min(this.options.MaxInFlight ?? bufferCount, Math.Max(1, bufferCount)));
    }

    public MacAddress TargetAddress { get; }
    public ushort Shelf { get; }
    public byte Slot { get; }
    public int SectorsPerRequest { get; }
    public int MaxInFlight { get; }
    /// <summary>Requests sent again because their answer did not come in time, since this disk was opened.</summary>
    public long Retransmissions { get; private set; }
    public long RequestsSent { get; private set; }

    private string Name => $"e{Shelf}.{Slot}";

    public AtaIdentify Identify(CancellationToken cancellationToken = default)
    {
        var block = new byte[AtaIdentify.Length];
        Execute(new Transfer(TransferKind.Identify, 0, 1, SectorsPerRequest: 1), block, cancellationToken);
        return AtaIdentify.Parse(block);
    }

    /// <summary>Reads whole sectors from <paramref name="lba"/> into <paramref name="destination"/> (a multiple of 512 bytes).</summary>
    public void Read(long lba, Span<byte> destination, CancellationToken cancellationToken = default) =>
        Execute(new Transfer(TransferKind.Read, lba, SectorsIn(destination.Length), SectorsPerRequest), destination, cancellationToken);

    /// <summary>Writes whole sectors from <paramref name="source"/> (a multiple of 512 bytes) at <paramref name="lba"/>.</summary>
    public void Write(long lba, ReadOnlySpan<byte> source, CancellationToken cancellationToken = default)
    {
        // The engine only reads from the buffer for a write; one signature for both directions keeps it single.
        var writable = System.Runtime.InteropServices.MemoryMarshal.CreateSpan(ref System.Runtime.InteropServices.MemoryMarshal.GetReference(source), source.Length);
        Execute(new Transfer(TransferKind.Write, lba, SectorsIn(source.Length), SectorsPerRequest), writable, cancellationToken);
    }

    private static long SectorsIn(int bytes) =>
        bytes % AoeProtocol.SectorSize == 0 ? bytes / AoeProtocol.SectorSize
            : throw new ArgumentException($"AoE transfers whole 512-byte sectors; {bytes} bytes is not a multiple of 512.");

    private enum TransferKind { Identify, Read, Write }

    private readonly record struct Transfer(TransferKind Kind, long Lba, long Sectors, int SectorsPerRequest)
    {
        public int Requests => (int)((Sectors + SectorsPerRequest - 1) / SectorsPerRequest);
        public long LbaOf(int request) => Lba + (long)request * SectorsPerRequest;
        public int SectorsOf(int request) => (int)Math.Min(SectorsPerRequest, Sectors - (long)request * SectorsPerRequest);
        public int OffsetOf(int request) => request * SectorsPerRequest * AoeProtocol.SectorSize;

        public AtaHeader Header(int request) => Kind switch
        {
            TransferKind.Identify => AtaHeader.Identify,
            TransferKind.Read => AtaHeader.Read48(LbaOf(request), SectorsOf(request)),
            _ => AtaHeader.Write48(LbaOf(request), SectorsOf(request)),
        };
    }

    /// <summary>One request in flight: which part of the transfer, its current tag, its frame and when to give up waiting.</summary>
    private sealed class Pending(int frameLength)
    {
        public readonly byte[] Frame = new byte[frameLength];
        public int Length;
        public int Request = -1;
        public uint Tag;
        public long Deadline;
        public int Attempts;
        public bool Busy => Request >= 0;
    }

    private void Execute(Transfer transfer, Span<byte> buffer, CancellationToken cancellationToken)
    {
        var inFlight = Enumerable.Range(0, Math.Min(MaxInFlight, transfer.Requests))
            .Select(_ => new Pending(AoeProtocol.AtaFrameHeaderLength + SectorsPerRequest * AoeProtocol.SectorSize)).ToArray();
        int next = 0, done = 0;
        while (done < transfer.Requests)
        {
            cancellationToken.ThrowIfCancellationRequested();
            foreach (var pending in inFlight)
                if (!pending.Busy && next < transfer.Requests)
                    Send(pending, transfer, next++, buffer);
            var received = socket.Receive(receiveBuffer, WaitFor(inFlight));
            if (received > 0 && Match(receiveBuffer.AsSpan(0, received), inFlight) is { } answered)
            {
                Complete(answered, transfer, receiveBuffer.AsSpan(0, received), buffer);
                done++;
            }
            ResendOverdue(inFlight);
        }
    }

    private void Send(Pending pending, Transfer transfer, int request, Span<byte> buffer)
    {
        pending.Request = request;
        pending.Attempts = 0;
        new AoeHeader(TargetAddress, socket.Address, false, AoeError.None, Shelf, Slot, AoeCommand.Ata, 0).Write(pending.Frame);
        transfer.Header(request).Write(pending.Frame);
        pending.Length = AoeProtocol.AtaFrameHeaderLength;
        if (transfer.Kind == TransferKind.Write)
        {
            var bytes = transfer.SectorsOf(request) * AoeProtocol.SectorSize;
            buffer.Slice(transfer.OffsetOf(request), bytes).CopyTo(pending.Frame.AsSpan(pending.Length));
            pending.Length += bytes;
        }
        pending.Length = Math.Max(pending.Length, AoeProtocol.MinimumFrameLength);
        Transmit(pending);
    }

    private void Transmit(Pending pending)
    {
        pending.Tag = NextTag();
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(pending.Frame.AsSpan(20), pending.Tag);
        pending.Attempts++;
        pending.Deadline = Stopwatch.GetTimestamp() + (long)(options.RetransmitAfter.TotalSeconds * Stopwatch.Frequency);
        socket.Send(pending.Frame.AsSpan(0, pending.Length));
        RequestsSent++;
    }

    private uint tag = (uint)Random.Shared.Next();

    private uint NextTag() => ++tag;

    // Plain loops here and below: they run once a frame, a million times for a gigabyte at MTU 1500.
    private static TimeSpan WaitFor(Pending[] inFlight)
    {
        var now = Stopwatch.GetTimestamp();
        var earliest = long.MaxValue;
        foreach (var pending in inFlight)
            if (pending.Busy && pending.Deadline < earliest)
                earliest = pending.Deadline;
        return earliest == long.MaxValue ? TimeSpan.Zero : Stopwatch.GetElapsedTime(now, Math.Max(earliest, now));
    }

    private Pending? Match(ReadOnlySpan<byte> frame, Pending[] inFlight)
    {
        if (!AoeHeader.TryRead(frame, out var header) || !header.IsResponse || header.Command != AoeCommand.Ata
            || header.Source != TargetAddress || header.Shelf != Shelf || header.Slot != Slot)
            return null;
        Pending? pending = null;
        foreach (var candidate in inFlight)
            if (candidate.Busy && candidate.Tag == header.Tag)
                pending = candidate;
        if (pending is not null && header.IsError)
            throw new AoeTargetException("AoeTargetError", $"AoE target {Name} ({TargetAddress}) answered with error {header.Error}.", Name);
        return pending;
    }

    private void Complete(Pending pending, Transfer transfer, ReadOnlySpan<byte> frame, Span<byte> buffer)
    {
        var ata = AtaHeader.Read(frame);
        if (ata.Failed)
            throw new AoeTargetException("AtaCommandFailed",
                $"AoE target {Name} refused {transfer.Kind.ToString().ToLowerInvariant()} of {transfer.SectorsOf(pending.Request)} sectors at LBA {transfer.LbaOf(pending.Request)} "
                + $"(ATA status 0x{ata.CommandOrStatus:x2}, error 0x{ata.ErrorOrFeature:x2}{(ata.ErrorOrFeature == AtaHeader.ErrorAborted ? ": aborted; a read-only export refuses writes" : "")}).",
                Name);
        if (transfer.Kind != TransferKind.Write)
        {
            var bytes = transfer.Kind == TransferKind.Identify ? AtaIdentify.Length : transfer.SectorsOf(pending.Request) * AoeProtocol.SectorSize;
            if (frame.Length < AoeProtocol.AtaFrameHeaderLength + bytes)
                throw new AoeTargetException("AoeShortResponse", $"AoE target {Name} answered with {frame.Length} bytes; {AoeProtocol.AtaFrameHeaderLength + bytes} expected.", Name);
            frame.Slice(AoeProtocol.AtaFrameHeaderLength, bytes).CopyTo(buffer[transfer.OffsetOf(pending.Request)..]);
        }
        pending.Request = -1;
    }

    private void ResendOverdue(Pending[] inFlight)
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var pending in inFlight)
        {
            if (!pending.Busy || pending.Deadline > now)
                continue;
            if (pending.Attempts >= options.MaxAttempts)
                throw new AoeTargetException("AoeTargetTimeout",
                    $"AoE target {Name} ({TargetAddress}) did not answer a request sent {pending.Attempts} times, {options.RetransmitAfter.TotalMilliseconds:0} ms apart.",
                    Name, StorageErrorKind.OperationTimeout);
            Retransmissions++;
            Transmit(pending);
        }
    }
}
