using System.Text.Json.Nodes;
using SparseStorage.Core.Backups;
using SparseStorage.Core.Native;
using SparseStorage.Core.Processes;
using SparseStorage.Core.Tests.Support;
using SparseStorage.Core.Volumes;

namespace SparseStorage.Core.Tests.Integration;

/// <summary>
/// Backup sets edited by someone who can write the backup storage: a manifest pointed at another pool's volume, data
/// and manifest changed together, a signature removed. Each is refused and the volume it aimed at keeps its hash.
/// </summary>
public sealed class UntrustedBackupTests : IDisposable
{
    private readonly TestPool pool = new();
    private readonly StorageContext context;
    private readonly VolumeBackupService backups;
    private readonly BackupRestorer restorer;
    private readonly string destination;
    private readonly string otherPool;
    private readonly string victim;
    private readonly string keyFile;

    public UntrustedBackupTests()
    {
        context = pool.Context();
        backups = new VolumeBackupService(context);
        restorer = new BackupRestorer(context);
        destination = pool.Combine("backups");
        Directory.CreateDirectory(destination);
        otherPool = pool.Combine("other-pool");
        Directory.CreateDirectory(otherPool);
        pool.Pools.Register("other", otherPool);
        victim = Path.Combine(otherPool, "web.img");
        ScatteredImage.Write(victim, 256L << 20, chunks: 8, seed: 99);
        keyFile = pool.Combine("backup.key");
        File.WriteAllBytes(keyFile, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private BackupIntegrityKey Key => BackupIntegrityKey.Load(keyFile);

    [IntegrationFact]
    public void A_manifest_edited_to_point_at_a_volume_in_another_pool_is_refused_and_the_victim_is_unchanged()
    {
        var set = BackUp(key: null);
        var victimBefore = Files.HashFile(victim);

        Tamper(set, manifest => manifest["volumePath"] = victim);
        ErrorIds.Of(() => restorer.Apply(restorer.Plan(set.BackupPath, null))).Should().Be("BackupSourceOutsidePool", "the set records pool 'test'");
        ErrorIds.Of(() => restorer.Apply(restorer.Plan(set.BackupPath, "other-name"))).Should().Be("BackupSourceOutsidePool", "a bare name goes beside the recorded volume");

        Tamper(set, manifest => manifest["volumePath"] = Path.Combine(pool.PoolPath, "..", "other-pool", "web.img"));
        ErrorIds.Of(() => restorer.Apply(restorer.Plan(set.BackupPath, null))).Should().Be("BackupSourceOutsidePool", "'..' is no plain path");

        Files.HashFile(victim).Should().Be(victimBefore);
        Directory.GetFileSystemEntries(otherPool).Should().Equal(victim);
    }

    [IntegrationFact]
    public void With_a_key_a_consistently_edited_manifest_is_refused_and_the_victim_is_unchanged()
    {
        var set = BackUp(Key);
        var victimBefore = Files.HashFile(victim);

        // Everything an attacker without the key can make agree: path, pool and the plain checksum.
        Tamper(set, manifest => (manifest["volumePath"], manifest["pool"]) = (victim, "other"));

        ErrorIds.Of(() => restorer.Apply(restorer.Plan(set.BackupPath, null, new BackupSignaturePolicy(Key, AllowUnsigned: false))))
            .Should().Be("BackupSignatureInvalid");
        ErrorIds.Of(() => restorer.Apply(restorer.Plan(set.BackupPath, null, new BackupSignaturePolicy(Key, AllowUnsigned: true))))
            .Should().Be("BackupSignatureInvalid", "-AllowUnsigned lets an unsigned set through, never a bad signature");
        Files.HashFile(victim).Should().Be(victimBefore);
    }

    [IntegrationFact("cmp")]
    public void A_signed_set_restores_byte_for_byte_and_changed_data_a_missing_signature_or_another_key_are_refused()
    {
        var set = BackUp(Key);
        var policy = new BackupSignaturePolicy(Key, AllowUnsigned: false);
        File.ReadAllText(Path.Combine(set.BackupPath, BackupSignature.FileName)).Should().StartWith("hmac-sha256:").And.NotContain(Convert.ToHexString(File.ReadAllBytes(keyFile)));

        var plan = restorer.Plan(set.BackupPath, "web-restored", policy);
        plan.SignatureVerified.Should().BeTrue();
        plan.Warnings.Should().BeEmpty();
        restorer.Plan(set.BackupPath, "web-restored").Warnings.Should().ContainSingle().Which.Should().Contain("its signature was not checked");
        var restored = restorer.Apply(plan);
        new ProcessRunner().Run(new ToolCommand("cmp", set.SourcePath, restored.Path)).ExitCode.Should().Be(0);
        (Libc.Stat(restored.Path).Mode & 0xFFF).Should().Be(0b110_000_000);

        var restoredBefore = Files.HashFile(restored.Path);
        ChangeStoredBlockConsistently(set);
        ErrorIds.Of(() => restorer.Apply(restorer.Plan(set.BackupPath, "web-restored", policy))).Should().Be("BackupSignatureInvalid");

        var other = pool.Combine("other.key");
        File.WriteAllBytes(other, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        File.SetUnixFileMode(other, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var fresh = BackUp(Key, full: true);
        ErrorIds.Of(() => restorer.Plan(fresh.BackupPath, "web-restored", new BackupSignaturePolicy(BackupIntegrityKey.Load(other), AllowUnsigned: false)))
            .Should().Be("BackupSignatureInvalid");

        File.Delete(Path.Combine(fresh.BackupPath, BackupSignature.FileName));
        ErrorIds.Of(() => restorer.Plan(fresh.BackupPath, "web-restored", policy)).Should().Be("BackupNotSigned");
        var unsigned = restorer.Plan(fresh.BackupPath, "web-restored", policy with { AllowUnsigned = true });
        unsigned.IsSigned.Should().BeFalse();
        unsigned.Warnings.Should().ContainSingle().Which.Should().Contain("is not signed");
        Files.HashFile(restored.Path).Should().Be(restoredBefore, "nothing refused touched the earlier restore");
    }

    [IntegrationFact]
    public void With_a_key_an_incremental_builds_only_on_a_set_signed_with_it()
    {
        var unsigned = BackUp(key: null);
        var signed = BackUp(Key);
        var next = BackUp(Key);

        (unsigned.Signed, signed.Signed, next.Signed).Should().Be((false, true, true));
        signed.Kind.Should().Be(BackupKind.Full, $"{unsigned.Name} is not signed, so it is not built on");
        next.Kind.Should().Be(BackupKind.Incremental);
        next.Parent.Should().Be(signed.Name);
    }

    [IntegrationFact("qemu-img")]
    public void A_raw_set_whose_data_became_a_qcow2_header_is_refused_before_it_replaces_anything()
    {
        var set = BackUp(key: null);
        var header = pool.Combine("crafted.qcow2");
        new ProcessRunner().RunChecked(new ToolCommand("qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/shadow", "-F", "raw", header, "1G"));
        var manifest = JsonNode.Parse(File.ReadAllBytes(Path.Combine(set.BackupPath, BackupManifest.FileName)))!;
        var first = manifest["blocks"]!.AsArray().First(b => b!["s"] is not null)!;
        var block = new byte[(int)first["n"]!];
        File.ReadAllBytes(header).CopyTo(block, 0);
        first["i"] = 0;
        ReplaceStoredBlock(set, first, block);
        Tamper(set, m => m["blocks"] = JsonNode.Parse(manifest["blocks"]!.ToJsonString()));

        var target = Path.Combine(pool.PoolPath, "web.img");
        var before = Files.HashFile(target);
        var refusal = FluentActions.Invoking(() => restorer.Apply(restorer.Plan(set.BackupPath, null))).Should().Throw<BackupDamagedException>().Which;

        refusal.Message.Should().Contain("Qcow2 image, the set records a Raw one");
        Files.HashFile(target).Should().Be(before);
        Directory.GetFiles(pool.PoolPath, ".*").Should().BeEmpty("the hidden work file is gone");
    }

    [IntegrationFact]
    public void A_manifest_with_a_block_beyond_the_image_is_refused()
    {
        var set = BackUp(key: null);
        Tamper(set, manifest => manifest["blocks"]!.AsArray()[^1]!["i"] = 1L << 40);

        ErrorIds.Of(() => restorer.Plan(set.BackupPath, "beyond")).Should().Be("BackupDamaged");
    }

    [IntegrationFact]
    public void A_key_file_others_can_read_is_named_in_a_warning_and_a_short_one_is_refused()
    {
        Key.Exposure.Should().BeNull();
        File.SetUnixFileMode(keyFile, (UnixFileMode)0b110_100_100);
        Key.Exposure.Should().Contain(keyFile).And.Contain("644").And.Contain("0600");

        File.WriteAllBytes(keyFile, new byte[8]);
        ErrorIds.Of(() => BackupIntegrityKey.Load(keyFile)).Should().Be("InvalidIntegrityKey");
    }

    private VolumeBackup BackUp(BackupIntegrityKey? key, bool full = false)
    {
        var path = Path.Combine(pool.PoolPath, "web.img");
        if (!File.Exists(path))
            ScatteredImage.Write(path, 256L << 20, chunks: 8);
        else
            ScatteredImage.Scribble(path, chunks: 1, seed: Environment.TickCount);
        var volume = new VolumeCatalog(context).Get(path);
        return backups.Apply(backups.Plan(volume, new BackupRequest { Destination = destination, IntegrityKey = key, Full = full }));
    }

    /// <summary>Edits the manifest as an attacker without the key can: any field, then manifest.sha256 recomputed to match.</summary>
    private static void Tamper(VolumeBackup set, Action<JsonNode> edit)
    {
        var path = Path.Combine(set.BackupPath, BackupManifest.FileName);
        var manifest = JsonNode.Parse(File.ReadAllBytes(path))!;
        edit(manifest);
        var bytes = System.Text.Encoding.UTF8.GetBytes(manifest.ToJsonString());
        File.WriteAllBytes(path, bytes);
        File.WriteAllText(Path.Combine(set.BackupPath, BackupManifest.ChecksumFileName), BackupManifest.Checksum(bytes) + "\n");
    }

    /// <summary>Writes new bytes for a stored block into data.bin and gives the block entry their hash, as an attacker would.</summary>
    private static void ReplaceStoredBlock(VolumeBackup set, JsonNode entry, byte[] data)
    {
        using (var file = new FileStream(Path.Combine(set.BackupPath, BackupManifest.DataFileName), FileMode.Open, FileAccess.Write))
        {
            file.Position = (long)entry["o"]!;
            file.Write(data);
        }
        entry["h"] = BlockScanner.HashOf(data);
    }

    private static void ChangeStoredBlockConsistently(VolumeBackup set)
    {
        var path = Path.Combine(set.BackupPath, BackupManifest.FileName);
        var blocks = JsonNode.Parse(File.ReadAllBytes(path))!["blocks"]!.AsArray();
        var entry = blocks.First(b => (string?)b!["s"] == set.Name)!;
        var data = new byte[(int)entry["n"]!];
        Array.Fill(data, (byte)0x41);
        ReplaceStoredBlock(set, entry, data);
        Tamper(set, manifest => manifest["blocks"] = JsonNode.Parse(blocks.ToJsonString()));
    }


    public void Dispose() => pool.Dispose();
}
