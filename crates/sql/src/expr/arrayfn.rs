//! Array functions that build new arrays: `array_remove`,
//! `array_replace`, `array_cat`, `array_prepend`.

use memdb_engine::{Array, DataType, Value};

/// Whether two elements are the same for the array functions (NULL
/// matches NULL, as IS NOT DISTINCT FROM).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        (a, b) => a.sql_eq(b) == Some(true),
    }
}

fn array_of(element_type: DataType, elements: Vec<Value>) -> Value {
    Value::Array(Box::new(Array { element_type, elements }))
}

/// `array_remove(array, element)`
pub(crate) fn remove(array: &Value, element: &Value) -> Value {
    let Value::Array(a) = array else { return Value::Null };
    array_of(a.element_type.clone(), a.elements.iter().filter(|e| !same(e, element)).cloned().collect())
}

/// `array_replace(array, from, to)`
pub(crate) fn replace(array: &Value, from: &Value, to: &Value) -> Value {
    let Value::Array(a) = array else { return Value::Null };
    array_of(
        a.element_type.clone(),
        a.elements.iter().map(|e| if same(e, from) { to.clone() } else { e.clone() }).collect(),
    )
}

/// `array_cat(a, b)` / `array || array`: NULL on one side gives the other.
pub(crate) fn cat(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Array(x), Value::Array(y)) => {
            array_of(x.element_type.clone(), x.elements.iter().chain(y.elements.iter()).cloned().collect())
        }
        (Value::Array(_), _) => a.clone(),
        (_, Value::Array(_)) => b.clone(),
        _ => Value::Null,
    }
}

/// `array_prepend(element, array)`
pub(crate) fn prepend(element: &Value, array: &Value) -> Value {
    let (element_type, rest) = match array {
        Value::Array(a) => (a.element_type.clone(), a.elements.as_slice()),
        _ => (element.data_type().unwrap_or(DataType::Text), &[][..]),
    };
    array_of(element_type, std::iter::once(element.clone()).chain(rest.iter().cloned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: &[Option<i32>]) -> Value {
        array_of(DataType::Int4, v.iter().map(|x| x.map_or(Value::Null, Value::Int4)).collect())
    }

    #[test]
    fn remove_replace_cat_prepend() {
        let a = ints(&[Some(1), None, Some(2), Some(1)]);
        assert_eq!(remove(&a, &Value::Int4(1)), ints(&[None, Some(2)]));
        assert_eq!(remove(&a, &Value::Null), ints(&[Some(1), Some(2), Some(1)]));
        assert_eq!(replace(&a, &Value::Int4(1), &Value::Int4(7)), ints(&[Some(7), None, Some(2), Some(7)]));
        assert_eq!(cat(&ints(&[Some(1)]), &ints(&[Some(2)])), ints(&[Some(1), Some(2)]));
        assert_eq!(cat(&Value::Null, &ints(&[Some(2)])), ints(&[Some(2)]));
        assert_eq!(prepend(&Value::Int4(0), &ints(&[Some(1)])), ints(&[Some(0), Some(1)]));
    }
}
