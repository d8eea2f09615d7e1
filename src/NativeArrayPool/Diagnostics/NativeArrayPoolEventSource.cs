using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;

namespace NativeBuffers.Diagnostics;

/// <summary>
/// The pool's events, under the EventSource name <c>NativeArrayPool</c> (dotnet-trace:
/// <c>--providers NativeArrayPool</c>). Event ids and enum values are stable: tools may key on them.
/// </summary>
/// <remarks>
/// <para>Events, ids and levels (docs/diagnostics.md has the payloads):
/// 1 BufferRented (Verbose, Leases) · 2 BufferReturned (Verbose, Leases) · 3 BufferGrown (Informational, Growth) ·
/// 4 PoolTrimmed (Informational, Memory) · 5 MappingBudgetReached (Warning, Memory) · 6 MisuseDetected (Warning, Misuse) ·
/// 7 LeakDetected (Warning, Misuse).</para>
/// <para>Rent and return events come only from the slow paths (the per-thread cache missed or was full), so
/// the common Rent and Return do no extra work when tracing is on or off. Turn thread caches off
/// (<c>NATIVEARRAYPOOL_THREADCACHES=0</c>) to see every rent and return.</para>
/// <para>Every call site checks <see cref="EventSource.IsEnabled(EventLevel, EventKeywords)"/> first, so a
/// disabled source costs one field read. Payloads are written with <see cref="EventSource.WriteEventCore"/>
/// rather than the <c>params object[]</c> overload, which would box every value and is not trim-safe; that
/// is the one use of pointers outside Interop/Os, as in the runtime's own <c>ArrayPoolEventSource</c>.</para>
/// <para>Listeners run synchronously on the thread that raised the event. The pool raises every event outside the
/// arena's lock and after the operation it reports (this layer is called only from the pooling layer, never from
/// the arena), so a listener may use the pool or dispose it; LeakDetected comes from inside Dispose, when the pool
/// is already disposed.</para>
/// </remarks>
[EventSource(Name = SourceName)]
internal sealed class NativeArrayPoolEventSource : EventSource
{
    public const string SourceName = "NativeArrayPool";

    public static readonly NativeArrayPoolEventSource Log = new();

    private const int BufferRentedId = 1;
    private const int BufferReturnedId = 2;
    private const int BufferGrownId = 3;
    private const int PoolTrimmedId = 4;
    private const int MappingBudgetReachedId = 5;
    private const int MisuseDetectedId = 6;
    private const int LeakDetectedId = 7;

    private const string PrimitivePayload = "Payloads are strings and primitives (enums as int), which the trimmer keeps.";

    private NativeArrayPoolEventSource() : base(EventSourceSettings.EtwSelfDescribingEventFormat)
    {
    }

    /// <summary>Keyword groups, to enable only some events.</summary>
    public static class Keywords
    {
        /// <summary>Rent and return (slow paths).</summary>
        public const EventKeywords Leases = (EventKeywords)0x1;
        /// <summary>Buffer growth and the path it took.</summary>
        public const EventKeywords Growth = (EventKeywords)0x2;
        /// <summary>Address space given back or refused: trims and the mapping budget.</summary>
        public const EventKeywords Memory = (EventKeywords)0x4;
        /// <summary>Misuse and leaks.</summary>
        public const EventKeywords Misuse = (EventKeywords)0x8;
    }

    /// <summary>A rent served by the arena rather than the thread cache.</summary>
    [Event(BufferRentedId, Level = EventLevel.Verbose, Keywords = Keywords.Leases)]
    public void BufferRented(string pool, long bytes, int sizeClass) => WriteStringLongInt(BufferRentedId, pool, bytes, sizeClass);

    /// <summary>A return that went to the arena because the thread cache was full or does not keep the class.</summary>
    [Event(BufferReturnedId, Level = EventLevel.Verbose, Keywords = Keywords.Leases)]
    public void BufferReturned(string pool, long bytes, int sizeClass) => WriteStringLongInt(BufferReturnedId, pool, bytes, sizeClass);

    /// <summary>
    /// A buffer grew from <paramref name="oldBytes"/> to <paramref name="newBytes"/> by <paramref name="path"/> (the
    /// value of one flag of <see cref="GrowthPaths"/>; an int, as listeners always received it, so this layer needs
    /// no type of the arena's).
    /// </summary>
    [Event(BufferGrownId, Level = EventLevel.Informational, Keywords = Keywords.Growth)]
    public void BufferGrown(string pool, long oldBytes, long newBytes, int path) => WriteStringLongLongInt(BufferGrownId, pool, oldBytes, newBytes, path);

    /// <summary>The pool gave <paramref name="bytesReleased"/> bytes of address space back, for <paramref name="reason"/>.</summary>
    [Event(PoolTrimmedId, Level = EventLevel.Informational, Keywords = Keywords.Memory)]
    public void PoolTrimmed(string pool, long bytesReleased, TrimReason reason) => WriteStringLongInt(PoolTrimmedId, pool, bytesReleased, (int)reason);

    /// <summary>
    /// A page move of a <paramref name="bufferBytes"/>-byte buffer was declined because the pool's kernel mappings
    /// would exceed its mapping budget even after consolidating; the growth continues on the next path.
    /// </summary>
    [Event(MappingBudgetReachedId, Level = EventLevel.Warning, Keywords = Keywords.Memory)]
    public void MappingBudgetReached(string pool, long bufferBytes, long kernelMappings, long budget) =>
        WriteStringLongLongLong(MappingBudgetReachedId, pool, bufferBytes, kernelMappings, budget);

    /// <summary>The pool detected misuse of <paramref name="kind"/> and threw.</summary>
    [Event(MisuseDetectedId, Level = EventLevel.Warning, Keywords = Keywords.Misuse)]
    public void MisuseDetected(string pool, MisuseKind kind) => WriteStringInt(MisuseDetectedId, pool, (int)kind);

    /// <summary>A lease of <paramref name="bytes"/> bytes was never returned.</summary>
    [Event(LeakDetectedId, Level = EventLevel.Warning, Keywords = Keywords.Misuse)]
    public void LeakDetected(string pool, long bytes, int sizeClass) => WriteStringLongInt(LeakDetectedId, pool, bytes, sizeClass);

    // ---- payload writers: one per payload shape, no boxing. Each sends exactly its event's parameters, in order ----

    [NonEvent]
    [UnconditionalSuppressMessage("ReflectionAnalysis", "IL2026", Justification = PrimitivePayload)]
    private unsafe void WriteStringInt(int eventId, string text, int a)
    {
        fixed (char* chars = text)
        {
            EventData* data = stackalloc EventData[2];
            data[0] = String(chars, text);
            data[1] = Value(&a);
            WriteEventCore(eventId, 2, data);
        }
    }

    [NonEvent]
    [UnconditionalSuppressMessage("ReflectionAnalysis", "IL2026", Justification = PrimitivePayload)]
    private unsafe void WriteStringLongInt(int eventId, string text, long a, int b)
    {
        fixed (char* chars = text)
        {
            EventData* data = stackalloc EventData[3];
            data[0] = String(chars, text);
            data[1] = Value(&a);
            data[2] = Value(&b);
            WriteEventCore(eventId, 3, data);
        }
    }

    [NonEvent]
    [UnconditionalSuppressMessage("ReflectionAnalysis", "IL2026", Justification = PrimitivePayload)]
    private unsafe void WriteStringLongLongInt(int eventId, string text, long a, long b, int c)
    {
        fixed (char* chars = text)
        {
            EventData* data = stackalloc EventData[4];
            data[0] = String(chars, text);
            data[1] = Value(&a);
            data[2] = Value(&b);
            data[3] = Value(&c);
            WriteEventCore(eventId, 4, data);
        }
    }

    [NonEvent]
    [UnconditionalSuppressMessage("ReflectionAnalysis", "IL2026", Justification = PrimitivePayload)]
    private unsafe void WriteStringLongLongLong(int eventId, string text, long a, long b, long c)
    {
        fixed (char* chars = text)
        {
            EventData* data = stackalloc EventData[4];
            data[0] = String(chars, text);
            data[1] = Value(&a);
            data[2] = Value(&b);
            data[3] = Value(&c);
            WriteEventCore(eventId, 4, data);
        }
    }

    private static unsafe EventData String(char* chars, string text) =>
        new() { DataPointer = (nint)chars, Size = (text.Length + 1) * sizeof(char) };

    private static unsafe EventData Value<TValue>(TValue* value) where TValue : unmanaged =>
        new() { DataPointer = (nint)value, Size = sizeof(TValue) };
}
