using NativeBuffers.Analyzers.Tests.Support;

namespace NativeBuffers.Analyzers.Tests;

/// <summary>NAP005: a NativeBuffer field in a type that cannot be disposed.</summary>
public class FieldTests
{
    [Fact]
    public void A_lease_field_or_auto_property_in_a_type_that_is_not_disposable_is_reported()
    {
        AnalyzerHarness.Verify("""
            using NativeBuffers;
            class Holder
            {
                private NativeBuffer<int> _lease; // NAP005
                public NativeBuffer<byte> Lease { get; set; } // NAP005
                public long Length => _lease.Length;
            }
            struct ValueHolder
            {
                public NativeBuffer<int> Lease; // NAP005
            }
            """);
    }

    [Fact]
    public void Disposable_types_disposable_ref_structs_and_static_fields_are_not_reported()
    {
        AnalyzerHarness.Verify("""
            using System;
            using NativeBuffers;
            class Owner : IDisposable
            {
                private NativeBuffer<int> _lease;
                public void Dispose() => _lease.Dispose();
            }
            class Derived : Owner
            {
                private NativeBuffer<int> _more;
                public long Length => _more.Length;
            }
            ref struct Scope
            {
                private NativeBuffer<int> _lease;
                public void Dispose() => _lease.Dispose();
            }
            static class Cache
            {
                public static NativeBuffer<int> Lease;
            }
            """);
    }
}
