// The consumer side of .ci/pack-check.sh: a console app that got NativeArrayPool from a local package folder,
// as a user would. It uses the package, then checks what the packages contain. Each check prints one line;
// the script compares them with what it expects.
using System.IO.Compression;
using System.Reflection;
using NativeBuffers;

// 1. Rent, fill, grow past the first block, check the contents survived, return.
NativeArrayPool<byte> pool = NativeArrayPool<byte>.Shared;
NativeBuffer<byte> buffer = pool.Rent(1 << 20);
buffer.AsSpan().Fill(42);
pool.Resize(ref buffer, 64L << 20);
bool kept = buffer[0] == 42 && buffer[(1 << 20) - 1] == 42;
long length = buffer.Length;
pool.Return(buffer);
NativePoolStatistics stats = pool.GetStatistics();
long grows = stats.GrowsInPlace + stats.GrowsRemappedFixed + stats.GrowsRemapped + stats.GrowsCopied;
Console.WriteLine($"use: kept={kept} length={length} rents={stats.Rents} returns={stats.Returns} grows={grows} backend={stats.Backend}");

// 2. The shared pool took its options from the environment (the script sets NATIVEARRAYPOOL_MAPPINGBUDGET).
Console.WriteLine($"environment: budget={stats.MappingBudget}");

// 3. The version the assembly carries: the package's version and the commit it was built from.
Console.WriteLine($"version: {typeof(NativeArrayPool<>).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion}");

// 4. The packed assembly is the one a clean rebuild gives (deterministic build; the script passes the rebuild).
if (args.Length > 1 && args[0] is string feed)
{
    string packed = Directory.GetFiles(feed, "NativeArrayPool.*.nupkg").Single(p => !Path.GetFileName(p).StartsWith("NativeArrayPool.AspNetCore.", StringComparison.Ordinal));
    using ZipArchive zip = ZipFile.OpenRead(packed);
    using var inPackage = new MemoryStream();
    using (Stream entry = zip.GetEntry("lib/net10.0/NativeArrayPool.dll")!.Open())
        entry.CopyTo(inPackage);
    bool same = inPackage.ToArray().AsSpan().SequenceEqual(File.ReadAllBytes(args[1]));
    Console.WriteLine(same ? "deterministic: NativeArrayPool.dll rebuilt byte for byte" : "deterministic: NativeArrayPool.dll differs from a clean rebuild");
}

// 5. Every package in the folder carries its README, the license, the assembly and its XML docs (and NativeArrayPool
//    its analyzer and code fixes).
if (args.Length > 0)
{
    foreach (string package in Directory.GetFiles(args[0], "*.nupkg").Order())
    {
        using ZipArchive zip = ZipFile.OpenRead(package);
        var names = zip.Entries.Select(e => e.FullName).ToHashSet();
        string id = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Name[..^".nuspec".Length];
        string[] expected = ["README.md", "LICENSE", $"lib/net10.0/{id}.dll", $"lib/net10.0/{id}.xml"];
        // The lease analyzer ships inside NativeArrayPool, so that every consumer runs it, and its code fixes beside it.
        if (id == "NativeArrayPool")
            expected = [.. expected, "analyzers/dotnet/cs/NativeArrayPool.Analyzers.dll", "analyzers/dotnet/cs/NativeArrayPool.Analyzers.CodeFixes.dll"];
        string[] missing = expected.Where(e => !names.Contains(e)).ToArray();
        Console.WriteLine(missing.Length == 0 ? $"package {id}: complete" : $"package {id}: missing {string.Join(", ", missing)}");
    }
}
