namespace NativeBuffers.Tests.Structure;

/// <summary>
/// The layers of src/NativeArrayPool, read from the source with Roslyn's semantic model (see <see cref="LibrarySource"/>):
/// each folder uses only the folders below it, the folder graph has no cycle, and the kernel, /proc, native memory and
/// pointers stay in the bottom layers, as docs/design.md and the style guide describe them.
/// </summary>
/// <remarks>
/// <para>The order: Interop → Os → Arenas → Pooling → Collections ("→" reads "is used by"), with Diagnostics beside
/// them: Pooling and Collections may report through it, and it uses no layer (what it needs from a pool it defines
/// itself, as <c>IObservedPool</c>, and the pool implements). Only Os calls into Interop: every question to the kernel
/// goes through Os's <c>VirtualMemory</c>, so fault injection reaches it. Pooling may use Os's memory access
/// (spans over native memory) as well as the arena; Collections use only Pooling.</para>
/// <para>Files at the root of src/NativeArrayPool (<c>ThrowHelper*.cs</c>) are shared helpers: every layer may use
/// them, and they use no layer, so they can never close a cycle.</para>
/// </remarks>
public class LayeringTests
{
    /// <summary>Which layers each layer may use, besides itself and the root helpers. A new folder must be added here.</summary>
    private static readonly Dictionary<string, string[]> MayUse = new()
    {
        ["Interop"] = [],
        ["Os"] = ["Interop"],
        ["Arenas"] = ["Os"],
        ["Pooling"] = ["Arenas", "Os", "Diagnostics"],
        ["Collections"] = ["Pooling", "Diagnostics"],
        ["Diagnostics"] = [],
        [LibrarySource.Root] = [],
    };

    /// <summary>
    /// Pointer code outside Interop and Os, each with why it cannot be elsewhere. Everything else works with
    /// addresses as <c>nint</c> and with spans.
    /// </summary>
    private static readonly Dictionary<string, string> PointerExceptions = new()
    {
        ["Diagnostics/NativeArrayPoolEventSource.cs"] =
            "EventSource.WriteEventCore takes EventData* (the runtime's ArrayPoolEventSource does the same); the params object[] overload boxes and is not trim-safe",
        ["Pooling/NativeBuffer{T}.cs"] = "NativeBuffer<T>.Pointer is public API: a T* for native interop, taken from MemoryAccess",
    };

    [Fact]
    public void The_library_compiles_for_the_analysis()
    {
        // A name that does not bind has no symbol, and so no layer: the other tests could miss its use.
        IReadOnlyList<Microsoft.CodeAnalysis.Diagnostic> errors = LibrarySource.Library.Errors;
        Assert.True(errors.Count == 0, "Compiling src/NativeArrayPool for the layer analysis failed:\n" + string.Join("\n", errors.Take(20)));
    }

    [Fact]
    public void Each_layer_uses_only_the_layers_it_may()
    {
        List<string> violations = LayerViolations(LibrarySource.Library.CrossLayerReferences());
        Assert.True(violations.Count == 0, Report("references against the layer order (file:line: user -> used (symbol); the rules are in the remarks of LayeringTests)", violations));
    }

    [Fact]
    public void The_graph_of_layers_has_no_cycle()
    {
        string? cycle = FindCycle(LibrarySource.Library.CrossLayerReferences());
        Assert.True(cycle is null, $"The layers form a cycle:\n{cycle}");
    }

    [Fact]
    public void The_kernel_proc_native_memory_and_pointers_stay_in_the_bottom_layers()
    {
        List<string> violations = ConstructViolations(LibrarySource.Library.KernelAndPointerConstructs());
        Assert.True(violations.Count == 0, Report("kernel, /proc, native-memory or pointer constructs outside Interop and Os (P/Invoke: Interop only; /proc: Os only; pointer exceptions: LayeringTests.PointerExceptions)", violations));
    }

    // ---- the checks fail when they should: the same code, run on small sources that break each rule ----

    [Fact]
    public void A_reference_against_the_layer_order_is_reported_with_file_line_and_edge()
    {
        LibrarySource source = LibrarySource.Compile(
        [
            ("Pooling/Pool.cs", "namespace N.Pooling; internal sealed class Pool { public static int Count => 1; }"),
            ("Diagnostics/Meter.cs", "namespace N.Diagnostics;\ninternal static class Meter\n{\n    public static int Read() => N.Pooling.Pool.Count;\n}"),
            ("Arenas/Arena.cs", "namespace N.Arenas; internal sealed class Arena { }"),
            ("Pooling/Core.cs", "namespace N.Pooling; internal sealed class Core { public N.Arenas.Arena? Arena; }"),
        ]);
        Assert.Empty(source.Errors);

        List<string> violations = LayerViolations(source.CrossLayerReferences());

        // Pooling -> Arenas is allowed; Diagnostics -> Pooling is not (the type, then its member).
        Assert.Equal(
            ["Diagnostics/Meter.cs:4: Diagnostics -> Pooling (N.Pooling.Pool)", "Diagnostics/Meter.cs:4: Diagnostics -> Pooling (N.Pooling.Pool.Count)"],
            violations);
    }

    [Fact]
    public void A_cycle_between_layers_is_reported_with_a_reference_for_each_edge()
    {
        LibrarySource source = LibrarySource.Compile(
        [
            ("Arenas/Arena.cs", "namespace N.Arenas; internal sealed class Arena { public object? Pool => N.Pooling.Core.Shared; }"),
            ("Pooling/Core.cs", "namespace N.Pooling; internal sealed class Core { public static Core Shared = new(); public N.Arenas.Arena Arena = new(); }"),
        ]);
        Assert.Empty(source.Errors);

        string? cycle = FindCycle(source.CrossLayerReferences());

        Assert.NotNull(cycle);
        Assert.Contains("Arenas/Arena.cs:1: Arenas -> Pooling", cycle);
        Assert.Contains("Pooling/Core.cs:1: Pooling -> Arenas", cycle);
    }

    [Fact]
    public void Kernel_and_pointer_code_above_Os_is_reported()
    {
        LibrarySource source = LibrarySource.Compile(
        [
            ("Collections/Reader.cs",
                "using System.Runtime.InteropServices;\nnamespace N.Collections;\ninternal static unsafe partial class Reader\n{\n" +
                "    public static string Path = \"/proc/self/maps\";\n" +
                "    public static void* Take() => NativeMemory.Alloc(1);\n" +
                "    [DllImport(\"libc\")] public static extern int getpid();\n}"),
            ("Os/Memory.cs", "namespace N.Os; internal static unsafe class Memory { public static void* Take() => System.Runtime.InteropServices.NativeMemory.Alloc(1); }"),
        ]);
        Assert.Empty(source.Errors);

        List<string> violations = ConstructViolations(source.KernelAndPointerConstructs());

        Assert.Contains("Collections/Reader.cs:3: unsafe member in Collections", violations);
        Assert.Contains("Collections/Reader.cs:5: /proc path \"/proc/self/maps\" in Collections", violations);
        Assert.Contains("Collections/Reader.cs:6: NativeMemory in Collections", violations);
        Assert.Contains("Collections/Reader.cs:6: pointer type void* in Collections", violations);
        Assert.Contains("Collections/Reader.cs:7: P/Invoke in Collections", violations);
        Assert.DoesNotContain(violations, v => v.StartsWith("Os/", StringComparison.Ordinal));
    }

    // ---- the rules ----

    private static List<string> LayerViolations(IEnumerable<LayerReference> references) =>
        references
            .Where(r => !MayUse.TryGetValue(r.From, out string[]? below) || (r.To != LibrarySource.Root && !below.Contains(r.To)))
            .Select(r => MayUse.ContainsKey(r.From) ? r.ToString() : $"{r} [the folder {r.From} is no layer LayeringTests.MayUse knows: add it there]")
            .Distinct()
            .ToList();

    private static List<string> ConstructViolations(IEnumerable<Construct> constructs) =>
        constructs
            .Where(c => c.What switch
            {
                "P/Invoke" => c.Layer != "Interop",
                _ when c.What.StartsWith("/proc", StringComparison.Ordinal) => c.Layer != "Os",
                "NativeMemory" => c.Layer is not ("Interop" or "Os"),
                _ => c.Layer is not ("Interop" or "Os") && !PointerExceptions.ContainsKey(c.File),
            })
            .Select(c => c.ToString())
            .ToList();

    /// <summary>A cycle of the graph the references draw between layers, one reference per edge; null if there is none.</summary>
    private static string? FindCycle(List<LayerReference> references)
    {
        Dictionary<(string, string), LayerReference> edges = references
            .GroupBy(r => (r.From, r.To))
            .ToDictionary(g => g.Key, g => g.First());
        var state = new Dictionary<string, int>(); // 1 on the path, 2 done
        var path = new List<string>();

        string? Visit(string layer)
        {
            state[layer] = 1;
            path.Add(layer);
            foreach ((string from, string to) in edges.Keys.Where(e => e.Item1 == layer).OrderBy(e => e.Item2, StringComparer.Ordinal))
            {
                if (state.GetValueOrDefault(to) == 1)
                {
                    List<string> loop = [.. path.Skip(path.IndexOf(to)), to];
                    return string.Join("\n", loop.Zip(loop.Skip(1), (a, b) => edges[(a, b)].ToString()));
                }
                if (state.GetValueOrDefault(to) == 0 && Visit(to) is string found)
                    return found;
            }
            path.RemoveAt(path.Count - 1);
            state[layer] = 2;
            return null;
        }

        foreach (string layer in edges.Keys.Select(e => e.Item1).Distinct().OrderBy(l => l, StringComparer.Ordinal))
        {
            if (state.GetValueOrDefault(layer) == 0 && Visit(layer) is string cycle)
                return cycle;
        }
        return null;
    }

    private static string Report(string heading, List<string> violations) =>
        $"{violations.Count} {heading}:\n{string.Join("\n", violations.Take(40))}";
}
