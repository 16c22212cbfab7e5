using System.Collections;

namespace SparseStorage.PowerShell.Tests.Runtime;

/// <summary>
/// The default views as a user reads them, for live and deserialized volumes: sizes in binary units from the hidden
/// display members, which stay out of JSON and Select-Object *.
/// </summary>
[Collection(PowerShellRuntimeCollection.Name)]
public sealed class DefaultViewTests(PowerShellRuntime runtime) : IDisposable
{
    private readonly TempPool pool = new(runtime);

    [Fact]
    public void The_volume_table_shows_sizes_in_binary_units_for_live_and_deserialized_volumes()
    {
        pool.NewVolume("big", size: "1.5GB");
        var parameters = new Hashtable { ["Pool"] = pool.Name, ["Xml"] = Path.Combine(pool.Spare, "volumes.xml") };

        var live = Table("Get-SparseVolume -Pool $Pool | Out-String -Width 200", parameters);
        var deserialized = Table("Get-SparseVolume -Pool $Pool | Export-Clixml -LiteralPath $Xml; Import-Clixml -LiteralPath $Xml | Out-String -Width 200", parameters);

        live.Should().Contain(line => line.StartsWith("big ", StringComparison.Ordinal) && line.Contains($" {pool.Name} ")
            && line.Contains(" Raw ") && line.Contains("1.5 GiB") && line.Contains("0 B") && line.Contains(" None"));
        deserialized.Should().Equal(live);
    }

    [Fact]
    public void The_volume_list_shows_each_size_with_its_exact_count_of_bytes()
    {
        pool.NewVolume("big", size: "1.5GB");

        var list = Table("Get-SparseVolume -Pool $Pool | Format-List | Out-String -Width 200", new Hashtable { ["Pool"] = pool.Name });

        list.Should().Contain(line => line.StartsWith("Size ") && line.EndsWith(": 1.5 GiB (1610612736 bytes)"));
    }

    [Fact]
    public void Display_members_are_typed_but_stay_out_of_json_and_select_star()
    {
        pool.NewVolume("big", size: "1.5GB");

        var result = runtime.Run(
            "$v = Get-SparseVolume -Pool $Pool; $v.Size.GetType().FullName; $v.Size.Bytes; $v | ConvertTo-Json -Compress; ($v | Select-Object *).PSObject.Properties.Name -join ','",
            new Hashtable { ["Pool"] = pool.Name }).Succeeded();

        var output = result.Output.Select(o => o.ToString()).ToList();
        output[0].Should().Be("SparseStorage.Core.ByteSize");
        output[1].Should().Be("1610612736");
        foreach (var hidden in new[] { "\"Size\"", "\"Allocated\"", "AttachedAs", "EncryptionStatus" })
            output[2].Should().NotContain(hidden);
        output[3].Split(',').Should().Contain("SizeBytes").And.NotContain(["Size", "Allocated", "AttachedAs", "EncryptionStatus"]);
    }

    [Fact]
    public void A_ceph_volume_mounted_on_another_host_shows_that_host_in_the_mount_point_column_and_in_the_list()
    {
        // As the Ceph listing makes it (no cluster here): mounted on node2, not on this host.
        const string Volume = "[SparseStorage.Core.Volumes.SparseVolume]@{ Name = 'web01'; Path = 'rbd:rbd/web01'; Pool = 'shared'; SizeBytes = 1GB; MountedOn = 'node2:/run/b' }";
        var parameters = new Hashtable { ["Xml"] = Path.Combine(pool.Spare, "ceph-volume.xml") };

        var live = Table($"{Volume} | Out-String -Width 200", parameters);
        var deserialized = Table($"{Volume} | Export-Clixml -LiteralPath $Xml; Import-Clixml -LiteralPath $Xml | Out-String -Width 200", parameters);
        var list = Table($"{Volume} | Format-List | Out-String -Width 200", parameters);
        var local = Table($"{Volume.Replace("MountedOn = 'node2:/run/b'", "MountedOn = 'node1'; MountPoint = '/srv/web01'", StringComparison.Ordinal)} | Out-String -Width 200", parameters);

        live.Should().Contain(line => line.StartsWith("web01 ", StringComparison.Ordinal) && line.Contains(" (on node2:/run/b) "));
        deserialized.Should().Equal(live);
        list.Should().Contain(line => line.StartsWith("MountedOn ", StringComparison.Ordinal) && line.EndsWith(": node2:/run/b"));
        local.Should().Contain(line => line.StartsWith("web01 ", StringComparison.Ordinal) && line.Contains(" /srv/web01 ") && !line.Contains("(on "),
            "a volume mounted here shows its mount point");
    }

    public void Dispose() => pool.Dispose();

    private List<string> Table(string script, Hashtable parameters) =>
        runtime.Run(script, parameters).Succeeded().Output.SelectMany(o => o.ToString().Split('\n'))
            .Select(l => l.TrimEnd()).Where(l => l.Length > 0).ToList();
}
