//! Natural ordering of file names, so that cam2 comes before cam10.

use std::cmp::Ordering;

/// Compares two strings treating runs of ASCII digits as numbers, ignoring ASCII case.
/// Case, then leading zeros, only break ties: `cam02` and `cam2b` compare as 2 and 2b, so
/// `cam02` comes first (a zero-padded name is not "later" than every name with that number).
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    cmp(a, b, true, false)
        .then_with(|| cmp(a, b, false, false))
        .then_with(|| cmp(a, b, false, true))
}

/// One pass of the comparison; `zeros` makes the count of leading zeros of equal numbers count.
fn cmp(mut a: &[u8], mut b: &[u8], fold_case: bool, zeros: bool) -> Ordering {
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, _) => return Ordering::Less,
            (_, None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (da, db) = (&a[..na], &b[..nb]);
                let ta = trim_zeros(da);
                let tb = trim_zeros(db);
                let ord = ta
                    .len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(tb))
                    .then(if zeros { na.cmp(&nb) } else { Ordering::Equal });
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                let ord = if fold_case {
                    x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase())
                } else {
                    x.cmp(y)
                };
                if ord != Ordering::Equal {
                    return ord;
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let n = d.iter().take_while(|&&c| c == b'0').count();
    &d[n.min(d.len().saturating_sub(1))..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_sort_by_value() {
        let mut v = vec![
            "cam10.mp4",
            "cam2.mp4",
            "cam1.mp4",
            "Cam3.mp4",
            "cam02.mp4",
            "b",
            "a10b2",
            "a10b10",
            "a9",
        ];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(
            v,
            [
                "a9",
                "a10b2",
                "a10b10",
                "b",
                "cam1.mp4",
                "cam2.mp4",
                "cam02.mp4",
                "Cam3.mp4",
                "cam10.mp4"
            ]
        );
    }

    #[test]
    fn leading_zeros_only_break_ties() {
        let mut v = vec!["cam2b", "cam02", "cam2", "cam002", "cam1c", "cam01d"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, ["cam1c", "cam01d", "cam2", "cam02", "cam002", "cam2b"]);
    }
}
