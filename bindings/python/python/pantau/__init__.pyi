from typing import Any, Iterable, Optional, Sequence, Tuple, Union, overload

__version__: str
COLUMNS: Tuple[str, ...]

Row = dict[str, Any]

class Classifier:
    def __init__(
        self,
        model: Optional[str] = None,
        *,
        participants: Iterable[str] = (),
        only_participants: bool = False,
        flag_threshold: float = 0.5,
        review_band: Tuple[float, float] = (0.3, 0.7),
        explain: int = 0,
        explain_method: str = "gradient",
    ) -> None: ...
    @property
    def model(self) -> str: ...
    @overload
    def classify(self, texts: Sequence[Optional[str]]) -> list[Row]: ...
    @overload
    def classify(self, texts: Any) -> Any: ...
    def classify_one(self, text: Optional[str]) -> Row: ...
